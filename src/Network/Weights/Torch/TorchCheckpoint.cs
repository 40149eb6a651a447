using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;

namespace IlgpuStyle.Network.Weights;

/// <summary>A storage a tensor points into: torch's persistent id ('storage', type, key, location, numel[, view]).</summary>
internal sealed record TorchStorageRef(string Key, string TypeName, string Location, long Numel, long ViewOffset);

/// <summary>A tensor as torch._utils._rebuild_tensor(_v2) describes it: storage, element offset, sizes, strides.</summary>
internal sealed record TorchTensorRef(TorchStorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>
/// Reads state_dict tensors from a PyTorch checkpoint without PyTorch, in both torch.save formats:
/// <list type="bullet">
/// <item>zip (PyTorch ≥ 1.6): PREFIX/data.pkl (pickle protocol 2), PREFIX/data/KEY (raw storage bytes),
/// PREFIX/version, optionally PREFIX/byteorder ("little"/"big").</item>
/// <item>legacy (PyTorch 0.2–1.5, e.g. torchvision's 2017 vgg19-dcbb9e9d.pth): five pickles back to back —
/// magic number 0x1950a86a20f9469cfc6c, protocol version 1001, sys_info, the object, the sorted storage keys —
/// then for each key an int64 element count followed by the raw storage bytes.</item>
/// </list>
/// Hostile files are refused before they cost memory: the pickle may name only the globals a state_dict needs
/// (<see cref="IsAllowedGlobal"/>); no storage or zip entry above <see cref="MaxStorageBytes"/> is read; a zip entry
/// must not claim more bytes than its compressed data can inflate to; a tensor may not have more elements than its
/// storage holds (so a 1-element storage cannot become a 10¹²-element tensor through zero strides).
/// </summary>
internal sealed class TorchCheckpoint : IDisposable
{
    /// <summary>
    /// The largest storage (or data.pkl) read: 1 GiB. VGG19's largest conv tensor is 9.4 MB, its largest tensor of
    /// any kind (the first classifier layer, never read) 411 MB.
    /// </summary>
    public const long MaxStorageBytes = 1L << 30;

    /// <summary>Deflate's best ratio is about 1032:1; an entry claiming more than this is corrupt or a zip bomb.</summary>
    private const long MaxDeflateRatio = 1040;

    private static readonly BigInteger LegacyMagic = BigInteger.Parse("1950a86a20f9469cfc6c", System.Globalization.NumberStyles.HexNumber);

    private readonly string _path;
    private readonly ZipArchive? _zip;
    private readonly string _zipPrefix = "";
    private readonly FileStream? _legacy;
    private readonly Dictionary<string, (long Offset, long Bytes)> _legacyData = [];
    private readonly Dictionary<string, byte[]> _storageCache = [];
    private readonly bool _littleEndian = true;

    public string Format { get; }
    public IReadOnlyList<(string Name, TorchTensorRef Tensor)> Tensors { get; }

    private TorchCheckpoint(string path, bool zip)
    {
        _path = path;
        var storages = new Dictionary<string, TorchStorageRef>();
        object? root;
        if (zip)
        {
            Format = "torch.save zip";
            IReadOnlyList<ZipArchiveEntry> entries;
            try
            {
                _zip = ZipFile.OpenRead(path);
                entries = _zip.Entries;   // reads the central directory
            }
            catch (InvalidDataException e) { throw WeightsFormatException.For(path, $"not a readable zip archive ({e.Message})"); }
            var pkl = entries.FirstOrDefault(e => e.FullName == "data.pkl" || e.FullName.EndsWith("/data.pkl"))
                      ?? throw WeightsFormatException.For(path, "zip archive has no data.pkl (not a torch.save checkpoint)");
            _zipPrefix = pkl.FullName[..^"data.pkl".Length];
            if (_zip.GetEntry(_zipPrefix + "byteorder") is { } bo)
                _littleEndian = System.Text.Encoding.ASCII.GetString(ReadEntry(bo, "byteorder")).Trim() != "big";
            var ms = new MemoryStream(ReadEntry(pkl, "data.pkl"));
            root = NewUnpickler(ms, storages).Load();
        }
        else
        {
            Format = "legacy torch.save";
            _legacy = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var plain = new Unpickler(_legacy, path);
            if (plain.Load() is not BigInteger magic || magic != LegacyMagic)
                throw WeightsFormatException.For(path, "starts with a pickle but not with torch's magic number (not a torch.save checkpoint)");
            if (plain.Load() is not long protocol || protocol != 1001)
                throw WeightsFormatException.For(path, "unsupported legacy torch.save protocol version (expected 1001)");
            if (plain.Load() is PyDict sysInfo && sysInfo["little_endian"] is false) _littleEndian = false;
            root = NewUnpickler(_legacy, storages).Load();
            if (plain.Load() is not List<object?> keys)
                throw WeightsFormatException.For(path, "legacy checkpoint lacks its list of storage keys (truncated?)");
            IndexLegacyStorages(keys.Select(k => k?.ToString() ?? "").ToList(), storages);
        }
        Tensors = FindStateDict(root);
    }

    public static TorchCheckpoint Open(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using (var fs = File.OpenRead(path))
            if (fs.ReadAtLeast(head, 4, throwOnEndOfStream: false) < 4) throw WeightsFormatException.For(path, "file is too short to be a checkpoint");
        return new TorchCheckpoint(path, head.SequenceEqual("PK\u0003\u0004"u8));
    }

    public void Dispose()
    {
        _zip?.Dispose();
        _legacy?.Dispose();
    }

    /// <summary>The tensor's values as float32, row-major (contiguous), whatever its strides and storage type.</summary>
    public float[] ReadFloats(string name, TorchTensorRef t)
    {
        if (t.Size.Length != t.Stride.Length)
            throw WeightsFormatException.For(_path, $"{name} has {t.Size.Length} sizes but {t.Stride.Length} strides");
        if (t.Offset < 0 || t.Storage.ViewOffset < 0 || t.Size.Any(d => d < 0) || t.Stride.Any(d => d < 0))
            throw WeightsFormatException.For(_path, $"{name} has a negative offset, size or stride");
        var (size, decode) = t.Storage.TypeName switch
        {
            "FloatStorage" => (4, (Func<ReadOnlySpan<byte>, float>)(b => _littleEndian ? BinaryPrimitives.ReadSingleLittleEndian(b) : BinaryPrimitives.ReadSingleBigEndian(b))),
            "DoubleStorage" => (8, b => (float)(_littleEndian ? BinaryPrimitives.ReadDoubleLittleEndian(b) : BinaryPrimitives.ReadDoubleBigEndian(b))),
            "HalfStorage" => (2, b => (float)(_littleEndian ? BinaryPrimitives.ReadHalfLittleEndian(b) : BinaryPrimitives.ReadHalfBigEndian(b))),
            "BFloat16Storage" => (2, b => BitConverter.Int32BitsToSingle((_littleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(b) : BinaryPrimitives.ReadUInt16BigEndian(b)) << 16)),
            _ => throw WeightsFormatException.For(_path, $"{name} is stored as torch.{t.Storage.TypeName}; only Float, Double, Half and BFloat16 storages are supported"),
        };
        var bytes = StorageBytes(t.Storage, size);
        long elements = bytes.Length / size;
        long count = 1;
        foreach (var d in t.Size)
            count = d == 0 || count == 0 ? 0 : count > elements / d ? elements + 1 : count * d;
        if (count > elements)
            throw WeightsFormatException.For(_path, $"{name} has shape [{string.Join(",", t.Size)}], more elements than its storage holds ({elements})");
        var result = new float[count];
        var index = new long[t.Size.Length];
        for (long n = 0; n < count; n++)
        {
            long e = t.Storage.ViewOffset + t.Offset;
            for (int k = 0; k < index.Length && e >= 0 && e < elements; k++)
                e = t.Stride[k] != 0 && index[k] > (elements - e) / t.Stride[k] ? elements : e + index[k] * t.Stride[k];
            if (e < 0 || e >= elements)
                throw WeightsFormatException.For(_path, $"{name} points outside its storage (element {e} of {bytes.Length / size})");
            result[n] = decode(bytes.AsSpan((int)(e * size), size));
            for (int k = index.Length - 1; k >= 0; k--)   // odometer over the row-major index
            {
                if (++index[k] < t.Size[k]) break;
                index[k] = 0;
            }
        }
        return result;
    }

    public static int ElementSize(string typeName) => typeName switch
    {
        "DoubleStorage" or "LongStorage" or "ComplexFloatStorage" => 8,
        "FloatStorage" or "IntStorage" => 4,
        "HalfStorage" or "BFloat16Storage" or "ShortStorage" => 2,
        "ByteStorage" or "CharStorage" or "BoolStorage" or "UntypedStorage" or "QUInt8Storage" or "QInt8Storage" => 1,
        "ComplexDoubleStorage" => 16,
        _ => -1,
    };

    private Unpickler NewUnpickler(Stream s, Dictionary<string, TorchStorageRef> storages) => new(s, _path)
    {
        AllowGlobal = IsAllowedGlobal,
        PersistentLoad = pid => ToStorage(pid, storages),
        Reduce = (f, args) => Rebuild(f, args),
    };

    /// <summary>('storage', storage_type, key, location, numel) or, legacy, (…, numel, (view_key, offset, view_size) | None).</summary>
    private TorchStorageRef ToStorage(object? pid, Dictionary<string, TorchStorageRef> storages)
    {
        if (pid is not object?[] { Length: >= 5 } t || t[0] is not "storage" || t[1] is not PyGlobal type)
            throw new InvalidDataException($"unexpected persistent id {Describe(pid)} (expected ('storage', type, key, location, numel))");
        var key = t[2]?.ToString() ?? throw new InvalidDataException("storage key is None");
        long numel = t[4] is long n ? n : throw new InvalidDataException($"storage {key}: element count is {Describe(t[4])}");
        int size = ElementSize(type.Name);
        if (size < 0) throw new InvalidDataException($"storage {key} has unknown type {type}");
        if (numel < 0 || numel > MaxStorageBytes / size)
            throw new InvalidDataException($"storage {key} claims {numel} elements of {size} bytes; the limit is {MaxStorageBytes >> 20} MiB per storage");
        var root = new TorchStorageRef(key, type.Name, t[3]?.ToString() ?? "", numel, 0);
        storages.TryAdd(key, root);
        if (t.Length >= 6 && t[5] is object?[] { Length: 3 } view && view[1] is long viewOffset)
            return root with { ViewOffset = viewOffset };
        return root;
    }

    /// <summary>
    /// The globals a state_dict pickle uses (torch.load(weights_only=True) allows these too): OrderedDict, the
    /// tensor and parameter rebuild functions, and the storage types. Everything else is refused while unpickling.
    /// </summary>
    public static bool IsAllowedGlobal(PyGlobal g) => (g.Module, g.Name) switch
    {
        ("collections", "OrderedDict") => true,
        ("torch._utils", "_rebuild_tensor" or "_rebuild_tensor_v2" or "_rebuild_parameter" or "_rebuild_parameter_with_state") => true,
        ("torch", var storage) => ElementSize(storage) > 0,
        _ => false,
    };

    private static object? Rebuild(PyGlobal f, object?[] a)
    {
        switch (f.Module, f.Name)
        {
            case ("collections", "OrderedDict"):
                return new PyDict();
            case ("torch._utils", "_rebuild_tensor_v2" or "_rebuild_tensor"):
                if (a.Length < 4 || a[0] is not TorchStorageRef s || a[1] is not long offset)
                    throw new InvalidDataException($"{f} called with unexpected arguments");
                return new TorchTensorRef(s, offset, Longs(a[2], f), Longs(a[3], f));
            case ("torch._utils", "_rebuild_parameter" or "_rebuild_parameter_with_state"):
                return a.Length > 0 ? a[0] : null;
            default:
                return new PyObject(f, a);
        }
    }

    private static long[] Longs(object? v, PyGlobal f) =>
        v is object?[] t && t.All(x => x is long) ? t.Select(x => (long)x!).ToArray()
            : throw new InvalidDataException($"{f}: size/stride is {Describe(v)}, expected a tuple of ints");

    /// <summary>A short description for messages; depth- and length-limited (a pickle can nest tuples 100 000 deep).</summary>
    private static string Describe(object? v) => Describe(v, 3);

    private static string Describe(object? v, int depth) => v switch
    {
        null => "None",
        object?[] when depth == 0 => "(…)",
        object?[] t => "(" + string.Join(", ", t.Take(6).Select(x => Describe(x, depth - 1))) + (t.Length > 6 ? ", …" : "") + ")",
        string s => $"'{(s.Length > 40 ? s[..40] + "…" : s)}'",
        _ => v.ToString() is { } text ? (text.Length > 40 ? text[..40] + "…" : text) : v.GetType().Name,
    };

    /// <summary>A state_dict: a dict of name → tensor, possibly wrapped as {"state_dict": …} or {"model": …}.</summary>
    private List<(string, TorchTensorRef)> FindStateDict(object? root)
    {
        if (root is PyDict d)
        {
            var tensors = d.Items.Where(kv => kv.Key is string && kv.Value is TorchTensorRef)
                .Select(kv => ((string)kv.Key!, (TorchTensorRef)kv.Value!)).ToList();
            if (tensors.Count > 0) return tensors;
            foreach (var key in new[] { "state_dict", "model", "model_state_dict" })
                if (d[key] is PyDict inner)
                    return FindStateDict(inner);
        }
        throw WeightsFormatException.For(_path, $"holds a {root?.GetType().Name ?? "None"} without tensors, not a state_dict (torch.save(model.state_dict(), …))");
    }

    private void IndexLegacyStorages(List<string> keys, Dictionary<string, TorchStorageRef> storages)
    {
        var fs = _legacy!;
        Span<byte> count = stackalloc byte[8];
        foreach (var key in keys)
        {
            if (!storages.TryGetValue(key, out var s))
                throw WeightsFormatException.For(_path, $"legacy storage {key} is not referenced by any tensor; cannot tell its size");
            int size = ElementSize(s.TypeName);
            if (size < 0) throw WeightsFormatException.For(_path, $"storage {key} has unknown type torch.{s.TypeName}");
            if (fs.ReadAtLeast(count, 8, throwOnEndOfStream: false) < 8)
                throw WeightsFormatException.For(_path, $"truncated: storage {key} is missing (file ends at byte {fs.Length})");
            long numel = _littleEndian ? BinaryPrimitives.ReadInt64LittleEndian(count) : BinaryPrimitives.ReadInt64BigEndian(count);
            if (numel < 0 || numel > (fs.Length - fs.Position) / size)
                throw WeightsFormatException.For(_path, $"truncated: storage {key} claims {numel} elements of {size} bytes at offset {fs.Position}, the file has {fs.Length} bytes");
            _legacyData[key] = (fs.Position, numel * size);
            fs.Position += numel * size;
        }
    }

    private byte[] StorageBytes(TorchStorageRef s, int elementSize)
    {
        if (_storageCache.TryGetValue(s.Key, out var cached)) return cached;
        long length = s.Numel * elementSize;
        byte[] bytes;
        if (_zip is not null)
        {
            var entry = _zip.GetEntry($"{_zipPrefix}data/{s.Key}")
                        ?? throw WeightsFormatException.For(_path, $"zip archive lacks {_zipPrefix}data/{s.Key} (storage of a needed tensor)");
            if (entry.Length < length)
                throw WeightsFormatException.For(_path, $"{entry.FullName} holds {entry.Length} bytes, the storage needs {length}");
            bytes = ReadEntry(entry, entry.FullName);
        }
        else
        {
            if (!_legacyData.TryGetValue(s.Key, out var at))
                throw WeightsFormatException.For(_path, $"legacy checkpoint has no data for storage {s.Key}");
            if (at.Bytes < length)
                throw WeightsFormatException.For(_path, $"legacy storage {s.Key} holds {at.Bytes} bytes, its tensors' storage needs {length}");
            bytes = new byte[length];
            _legacy!.Position = at.Offset;
            _legacy.ReadExactly(bytes);
        }
        _storageCache[s.Key] = bytes;
        return bytes;
    }

    private byte[] ReadEntry(ZipArchiveEntry entry, string what)
    {
        if (entry.Length > MaxStorageBytes)
            throw WeightsFormatException.For(_path, $"{what} in the zip archive claims {entry.Length} bytes; the limit is {MaxStorageBytes >> 20} MiB");
        if (entry.Length > entry.CompressedLength * MaxDeflateRatio + 1024)
            throw WeightsFormatException.For(_path, $"{what} in the zip archive claims {entry.Length} bytes from {entry.CompressedLength} compressed bytes, more than deflate can produce (corrupt, or a zip bomb)");
        try
        {
            using var s = entry.Open();
            var bytes = new byte[entry.Length];
            s.ReadExactly(bytes);
            return bytes;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException or NotSupportedException)
        {
            throw WeightsFormatException.For(_path, $"cannot read {what} from the zip archive ({e.Message})");
        }
    }
}
