using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// Reads and validates .ilgw files. The payload is streamed once, straight into the float arrays (f32) or
/// through a small conversion buffer (f16), and hashed as it goes; the SHA-256 is compared at the end.
/// Every problem is a <see cref="WeightsFormatException"/> "path: what is wrong".
/// </summary>
internal static class IlgwReader
{
    private const int ChunkBytes = 1 << 20;

    /// <summary>float16 bit pattern → float32 value; a 256 KiB table is several times faster than converting each Half.</summary>
    private static readonly Lazy<float[]> HalfToSingle = new(() =>
    {
        var t = new float[65536];
        for (int i = 0; i < t.Length; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    });

    public static VggWeights Read(string path)
    {
        if (!File.Exists(path)) throw WeightsFormatException.For(path, "file does not exist");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkBytes, FileOptions.SequentialScan);
        long fileLength = fs.Length;

        Span<byte> pre = stackalloc byte[IlgwFormat.PreambleLength];
        int got = fs.ReadAtLeast(pre, pre.Length, throwOnEndOfStream: false);
        if (got >= 4 && !pre[..4].SequenceEqual(IlgwFormat.Magic))
            throw Fail(path, $"not an .ilgw weights file: it starts with bytes {Convert.ToHexString(pre[..4])}, expected \"ILGW\"{Hint(pre[..4])}");
        if (got < pre.Length)
            throw Fail(path, $"truncated: {fileLength} bytes, shorter than the {IlgwFormat.PreambleLength}-byte .ilgw preamble");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(pre[4..]);
        if (version != IlgwFormat.Version)
            throw Fail(path, $"unsupported .ilgw version {version} (this build reads version {IlgwFormat.Version})");
        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(pre[8..]);
        if (headerLength > IlgwFormat.MaxHeaderLength)
            throw Fail(path, $"header length {headerLength} bytes is implausible (limit {IlgwFormat.MaxHeaderLength}); the file is corrupt");
        if (IlgwFormat.PreambleLength + (long)headerLength > fileLength)
            throw Fail(path, $"truncated: the header needs {headerLength} bytes but only {fileLength - IlgwFormat.PreambleLength} follow the preamble");

        var headerBytes = new byte[headerLength];
        fs.ReadExactly(headerBytes);
        var header = ParseHeader(path, headerBytes);
        var (entries, dtype) = ValidateEntries(path, header);

        long payloadStart = IlgwFormat.Align(IlgwFormat.PreambleLength + headerLength);
        long expectedLength = payloadStart + header.PayloadLength;
        if (fileLength < expectedLength)
            throw Fail(path, $"truncated: expected {expectedLength} bytes ({header.PayloadLength}-byte payload at offset {payloadStart}), the file has {fileLength}");
        if (fileLength > expectedLength)
            throw Fail(path, $"{fileLength - expectedLength} unexpected bytes after the payload (expected {expectedLength} bytes in all)");

        fs.Position = payloadStart;
        var tensors = ReadPayload(path, fs, entries, header.PayloadLength, header.Sha256!);

        return new VggWeights(tensors, ToPreprocessing(path, header.Preprocessing), header.ConvertedFrom ?? "")
        {
            FilePath = Path.GetFullPath(path),
            Sha256 = header.Sha256,
            StoredAs = dtype,
            Entries = entries,
        };
    }

    private static WeightsFormatException Fail(string path, string what) => WeightsFormatException.For(path, what);

    private static string Hint(ReadOnlySpan<byte> magic) =>
        magic.SequenceEqual("PK\u0003\u0004"u8) || magic[0] == 0x80
            ? " (this looks like a PyTorch checkpoint: convert it with `ilgpu-style weights convert --from FILE --out OUT.ilgw`)"
            : magic[0] == (byte)'{' ? " (this looks like JSON, e.g. a TF.js model.json: convert it with `ilgpu-style weights convert`)" : "";

    private static IlgwHeader ParseHeader(string path, byte[] bytes)
    {
        IlgwHeader? header;
        try
        {
            header = JsonSerializer.Deserialize<IlgwHeader>(Encoding.UTF8.GetString(bytes), IlgwFormat.Json);
        }
        catch (JsonException e)
        {
            throw Fail(path, $"header is not valid JSON ({e.Message})");
        }
        if (header is null) throw Fail(path, "header is empty (JSON null)");
        if (header.Format != "ilgw") throw Fail(path, $"header format is \"{header.Format}\", expected \"ilgw\"");
        if (header.Tensors is null || header.Tensors.Count == 0) throw Fail(path, "header lists no tensors");
        if (header.Sha256 is null || header.Sha256.Length != 64 || !header.Sha256.All(Uri.IsHexDigit))
            throw Fail(path, "header sha256 is missing or not 64 hex digits");
        if (header.PayloadLength < 0) throw Fail(path, $"header payloadLength {header.PayloadLength} is negative");
        return header;
    }

    /// <summary>Every tensor: known dtype, shape consistent with length, 64-aligned, inside the payload, in order, no overlap.</summary>
    private static (List<IlgwTensorInfo>, StorageDType) ValidateEntries(string path, IlgwHeader header)
    {
        var list = new List<IlgwTensorInfo>();
        var names = new HashSet<string>();
        long end = 0;
        StorageDType? common = null;
        foreach (var e in header.Tensors!)
        {
            var name = e.Name ?? throw Fail(path, $"tensor #{list.Count} has no name");
            if (!names.Add(name)) throw Fail(path, $"tensor {name} is listed twice");
            if (e.Shape is null || e.Shape.Length == 0) throw Fail(path, $"tensor {name} has no shape");
            if (!IlgwFormat.TryParse(e.Dtype, out var dtype)) throw Fail(path, $"tensor {name} has unsupported dtype \"{e.Dtype}\" (expected f32 or f16)");
            try { WeightTensor.ToShape4(name, e.Shape); }
            catch (ArgumentException ex) { throw Fail(path, ex.Message); }
            long count = 1;
            foreach (var d in e.Shape) count = Math.Min(count * d, (long)int.MaxValue + 1);   // dims are ≥ 1: no overflow
            if (count > int.MaxValue)
                throw Fail(path, $"tensor {name}: shape {WeightTensor.FormatDims(e.Shape)} has more than {int.MaxValue} elements (the most a tensor can hold)");
            long needed = count * IlgwFormat.ElementSize(dtype);
            if (needed != e.Length)
                throw Fail(path, $"tensor {name}: shape {WeightTensor.FormatDims(e.Shape)} {e.Dtype} needs {needed} bytes but the header says length {e.Length}");
            if (e.Offset % IlgwFormat.Alignment != 0) throw Fail(path, $"tensor {name}: offset {e.Offset} is not a multiple of {IlgwFormat.Alignment}");
            if (e.Offset > header.PayloadLength) throw Fail(path, $"tensor {name}: offset {e.Offset} lies outside the {header.PayloadLength}-byte payload");
            if (e.Offset < end) throw Fail(path, $"tensor {name}: offset {e.Offset} overlaps the previous tensor (which ends at {end})");
            end = e.Offset + e.Length;
            if (end > header.PayloadLength)
                throw Fail(path, $"tensor {name}: bytes {e.Offset}..{end} lie outside the {header.PayloadLength}-byte payload");
            if (common is not null && common != dtype) throw Fail(path, "tensors mix f32 and f16 storage, which this version does not write");
            common = dtype;
            list.Add(new IlgwTensorInfo(name, e.Shape, dtype, e.Offset, e.Length, e.Source ?? "", e.F16MaxAbsError));
        }
        if (end != header.PayloadLength)
            throw Fail(path, $"header payloadLength {header.PayloadLength} does not match the end of the last tensor ({end})");
        return (list, common!.Value);
    }

    private static List<WeightTensor> ReadPayload(string path, FileStream fs, List<IlgwTensorInfo> entries, long payloadLength, string expectedSha)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[ChunkBytes];
        var result = new List<WeightTensor>(entries.Count);
        long pos = 0;
        foreach (var e in entries)
        {
            ReadHashed(e.Offset - pos, buffer, _ => { });   // zero padding between tensors (hashed, not kept)
            var data = new float[e.Length / IlgwFormat.ElementSize(e.DType)];
            if (e.DType == StorageDType.F32)
            {
                var bytes = MemoryMarshal.AsBytes(data.AsSpan());
                fs.ReadExactly(bytes);
                hash.AppendData(bytes);
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i));
            }
            else
            {
                int done = 0;
                var table = HalfToSingle.Value;
                ReadHashed(e.Length, buffer, chunk =>
                {
                    for (int i = 0; i < chunk.Length / 2; i++)
                        data[done + i] = table[BinaryPrimitives.ReadUInt16LittleEndian(chunk.Slice(2 * i))];
                    done += chunk.Length / 2;
                });
            }
            result.Add(new WeightTensor(e.Name, e.Dims, data, e.Source));
            pos = e.Offset + e.Length;
        }
        var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (!actual.Equals(expectedSha, StringComparison.OrdinalIgnoreCase))
            throw Fail(path, $"checksum mismatch: the payload's SHA-256 is {actual[..16]}…, the header says {expectedSha[..16]}… (the file is corrupt; convert or download it again)");
        return result;

        void ReadHashed(long count, byte[] buf, SpanAction use)
        {
            while (count > 0)
            {
                int n = (int)Math.Min(count, buf.Length);   // buffer length is even: f16 chunks hold whole values
                var span = buf.AsSpan(0, n);
                fs.ReadExactly(span);
                hash.AppendData(span);
                use(span);
                count -= n;
            }
        }
    }

    private delegate void SpanAction(ReadOnlySpan<byte> chunk);

    private static Preprocessing ToPreprocessing(string path, IlgwPreprocessing? p)
    {
        if (p is null) throw Fail(path, "header has no preprocessing");
        if (!Enum.TryParse<ChannelOrder>(p.ChannelOrder, ignoreCase: false, out var order))
            throw Fail(path, $"preprocessing channelOrder \"{p.ChannelOrder}\" is not RGB or BGR");
        if (p.InputScale is not (1f or 255f)) throw Fail(path, $"preprocessing inputScale {p.InputScale} is not 1 or 255");
        if (p.Mean is not { Length: 3 } || p.Std is not { Length: 3 }) throw Fail(path, "preprocessing mean and std must hold 3 values each");
        if (p.Std.Any(s => !(s > 0))) throw Fail(path, "preprocessing std values must be positive");
        return new Preprocessing(order, p.InputScale, p.Mean, p.Std);
    }
}
