using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace IlgpuStyle.Tests.Weights;

/// <summary>
/// Writes PyTorch checkpoints byte for byte the way torch.save does for a state_dict of tensors (pickle protocol 2,
/// CPython's memoization: every GLOBAL, string, tuple and dict gets a BINPUT, repeats are BINGETs), so the reader is
/// tested on real layouts without PyTorch. Two containers:
/// zip (PyTorch ≥ 1.6): ARCHIVE/data.pkl, ARCHIVE/byteorder, ARCHIVE/data/KEY, ARCHIVE/version;
/// legacy (PyTorch ≤ 1.5, torchvision's 2017 files): pickles of the magic number, protocol 1001, sys_info,
/// the state_dict, the sorted storage keys, then per storage an int64 element count and the raw data.
/// </summary>
public static class TorchSaveWriter
{
    /// <summary>A tensor to save. Storage values are given directly; Offset/Stride describe a view into them.</summary>
    public sealed record FakeTensor(string Name, long[] Size, float[] Storage, long Offset = 0, long[]? Stride = null,
        string StorageType = "FloatStorage", string? StorageKey = null)
    {
        public long[] Strides => Stride ?? Contiguous(Size);
    }

    public static long[] Contiguous(long[] size)
    {
        var s = new long[size.Length];
        long acc = 1;
        for (int i = size.Length - 1; i >= 0; i--) { s[i] = acc; acc *= size[i]; }
        return s;
    }

    public static FakeTensor Dense(string name, float[] values, params long[] size) => new(name, size, values);

    public static void WriteZip(string path, IReadOnlyList<FakeTensor> tensors, string archive = "archive",
        bool wrapInStateDictKey = false)
    {
        var keys = StorageKeys(tensors, legacy: false);
        var pkl = new Pickler();
        pkl.StateDict(tensors, keys, legacy: false, wrapInStateDictKey, python2Strings: false);
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        Add(zip, $"{archive}/data.pkl", pkl.Bytes());
        Add(zip, $"{archive}/byteorder", "little"u8.ToArray());
        foreach (var (storage, (key, type)) in keys.Select(kv => (kv.Key, kv.Value)))
            Add(zip, $"{archive}/data/{key}", StorageBytes(storage, type));
        Add(zip, $"{archive}/version", "3\n"u8.ToArray());
    }

    /// <summary>Legacy format; <paramref name="python2Strings"/> pickles names as Python 2 str (SHORT_BINSTRING) and uses _rebuild_tensor.</summary>
    public static void WriteLegacy(string path, IReadOnlyList<FakeTensor> tensors, bool python2Strings = true)
    {
        var keys = StorageKeys(tensors, legacy: true);
        using var fs = File.Create(path);
        var magic = new Pickler(); magic.Long1([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]); fs.Write(magic.Bytes());
        var version = new Pickler(); version.Int(1001); fs.Write(version.Bytes());
        var sys = new Pickler(); sys.SysInfo(); fs.Write(sys.Bytes());
        var main = new Pickler(); main.StateDict(tensors, keys, legacy: true, wrap: false, python2Strings); fs.Write(main.Bytes());
        var sorted = keys.Values.Select(v => v.Key).Order(StringComparer.Ordinal).ToList();
        var list = new Pickler(); list.StringList(sorted, python2Strings); fs.Write(list.Bytes());
        Span<byte> n = stackalloc byte[8];
        foreach (var key in sorted)
        {
            var (storage, (_, type)) = keys.Select(kv => (kv.Key, kv.Value)).First(x => x.Value.Key == key);
            var bytes = StorageBytes(storage, type);
            BinaryPrimitives.WriteInt64LittleEndian(n, storage.Length);
            fs.Write(n);
            fs.Write(bytes);
        }
    }

    private static Dictionary<float[], (string Key, string Type)> StorageKeys(IReadOnlyList<FakeTensor> tensors, bool legacy)
    {
        var keys = new Dictionary<float[], (string, string)>(ReferenceEqualityComparer.Instance);
        foreach (var t in tensors)
            if (!keys.ContainsKey(t.Storage))
                keys[t.Storage] = (t.StorageKey ?? (legacy ? (94_000_000 + 16 * keys.Count).ToString() : keys.Count.ToString()), t.StorageType);
        return keys;
    }

    private static byte[] StorageBytes(float[] values, string type)
    {
        if (type == "HalfStorage")
        {
            var h = new byte[values.Length * 2];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(h.AsSpan(2 * i), (Half)values[i]);
            return h;
        }
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return b;
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var s = e.Open();
        s.Write(bytes);
    }

    /// <summary>A protocol-2 pickler for exactly the objects torch.save emits for a state_dict.</summary>
    private sealed class Pickler
    {
        private readonly MemoryStream _out = new();
        private readonly Dictionary<string, int> _memo = [];

        public Pickler() { Op(0x80); Op(2); }   // PROTO 2

        public byte[] Bytes()
        {
            Op('.');   // STOP
            return _out.ToArray();
        }

        public void StateDict(IReadOnlyList<FakeTensor> tensors, Dictionary<float[], (string Key, string Type)> keys,
            bool legacy, bool wrap, bool python2Strings)
        {
            if (wrap)
            {
                Op('}'); Put(null);                              // {"state_dict": OrderedDict(...), "epoch": 7}
                Op('(');
                Str("state_dict", python2Strings);
            }
            OrderedDict();
            Op('(');                                             // MARK: key/value pairs for SETITEMS
            foreach (var t in tensors)
            {
                Str(t.Name, python2Strings);
                Global("torch._utils", legacy ? "_rebuild_tensor" : "_rebuild_tensor_v2");
                Op('(');
                var (key, type) = keys[t.Storage];
                Op('(');                                         // persistent id tuple
                Str("storage", python2Strings);
                Global("torch", type);
                Str(key, python2Strings);
                Str("cpu", python2Strings);
                Int(t.Storage.Length);
                if (legacy) Op('N');                             // view_metadata None
                Op('t'); Put(null);
                Op('Q');                                         // BINPERSID
                Int(t.Offset);
                Tuple(t.Size);
                Tuple(t.Strides);
                if (!legacy)
                {
                    Op(0x89);                                    // requires_grad False
                    OrderedDict();                               // backward_hooks OrderedDict()
                }
                Op('t'); Put(null);
                Op('R'); Put(null);                              // REDUCE → tensor
            }
            Op('u');                                             // SETITEMS
            // state_dict._metadata, set with BUILD as OrderedDict.__reduce__ does.
            Op('}'); Put(null);
            Str("_metadata", python2Strings);
            OrderedDict();
            Str("", python2Strings); Op('}'); Put(null); Str("version", python2Strings); Int(1); Op('s');
            Op('s');
            Op('s');
            Op('b');                                             // BUILD
            if (wrap)
            {
                Str("epoch", python2Strings); Int(7);
                Op('u');
            }
        }

        public void SysInfo()
        {
            Op('}'); Put(null); Op('(');
            Str("protocol_version", false); Int(1001);
            Str("little_endian", false); Op(0x88);
            Str("type_sizes", false); Op('}'); Put(null); Op('(');
            Str("short", false); Int(2); Str("int", false); Int(4); Str("long", false); Int(4);
            Op('u');
            Op('u');
        }

        public void StringList(IEnumerable<string> items, bool python2Strings)
        {
            Op(']'); Put(null); Op('(');
            foreach (var s in items) Str(s, python2Strings);
            Op('e');                                             // APPENDS
        }

        public void Long1(byte[] littleEndian)
        {
            Op(0x8a); Op(littleEndian.Length); _out.Write(littleEndian);
        }

        public void Int(long v)
        {
            if (v is >= 0 and < 256) { Op('K'); Op((int)v); }
            else if (v is >= 0 and < 65536) { Op('M'); Op((int)(v & 0xff)); Op((int)(v >> 8)); }
            else if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); _out.Write(b); }
            else Long1(BitConverter.GetBytes(v));
        }

        private void OrderedDict()
        {
            Global("collections", "OrderedDict");
            Op(')');                                             // EMPTY_TUPLE
            Op('R'); Put(null);                                  // REDUCE
        }

        private void Tuple(long[] items)
        {
            if (items.Length == 0) { Op(')'); return; }
            if (items.Length <= 3)
            {
                foreach (var x in items) Int(x);
                Op(0x84 + items.Length);                         // TUPLE1/2/3
            }
            else
            {
                Op('(');
                foreach (var x in items) Int(x);
                Op('t');
            }
            Put(null);
        }

        private void Global(string module, string name)
        {
            if (Get($"g:{module}.{name}")) return;
            Op('c'); _out.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
            Put($"g:{module}.{name}");
        }

        private void Str(string s, bool python2)
        {
            if (Get($"s:{s}")) return;
            var b = python2 ? Encoding.Latin1.GetBytes(s) : Encoding.UTF8.GetBytes(s);
            if (python2 && b.Length < 256) { Op('U'); Op(b.Length); }
            else if (python2) { Op('T'); WriteU32(b.Length); }
            else { Op('X'); WriteU32(b.Length); }
            _out.Write(b);
            Put($"s:{s}");
        }

        private bool Get(string key)
        {
            if (!_memo.TryGetValue(key, out var i)) return false;
            if (i < 256) { Op('h'); Op(i); } else { Op('j'); WriteU32(i); }
            return true;
        }

        private void Put(string? key)
        {
            int i = _memoCount++;
            if (key is not null) _memo[key] = i;
            if (i < 256) { Op('q'); Op(i); } else { Op('r'); WriteU32(i); }
        }

        private int _memoCount;

        private void WriteU32(int v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteInt32LittleEndian(b, v); _out.Write(b); }
        private void Op(int b) => _out.WriteByte((byte)b);
        private void Op(char c) => _out.WriteByte((byte)c);
    }
}
