using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace IlgpuStyle.Network.Weights;

/// <summary>A pickled reference to a module-level name (GLOBAL "collections\nOrderedDict").</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>A dict (or OrderedDict) in insertion order; <see cref="State"/> is what BUILD set on it, if anything.</summary>
internal sealed class PyDict
{
    public List<KeyValuePair<object?, object?>> Items { get; } = [];
    public object? State { get; set; }

    public object? this[string key] => Items.FirstOrDefault(kv => kv.Key is string s && s == key).Value;
}

/// <summary>Any other object: the callable and arguments REDUCE/NEWOBJ would have called, plus BUILD state.</summary>
internal sealed class PyObject(PyGlobal type, object?[] args)
{
    public PyGlobal Type { get; } = type;
    public object?[] Args { get; } = args;
    public object? State { get; set; }
}

/// <summary>
/// A minimal, safe unpickler (protocols 0–4 binary opcodes) for what torch.save writes: it never executes
/// anything and never constructs a .NET type a pickle names. GLOBAL yields a <see cref="PyGlobal"/>, and only a
/// global that <see cref="AllowGlobal"/> accepts (none by default; torch's few for checkpoints) — any other is a
/// format error, as in torch.load(weights_only=True); REDUCE asks <see cref="Reduce"/> to build the object
/// (OrderedDict, torch._utils._rebuild_tensor_v2, …); BINPERSID asks <see cref="PersistentLoad"/>. Opcodes beyond
/// the data opcodes listed in <see cref="Step"/> (INST, OBJ, EXT*, the text protocol-0 opcodes, …) are format errors.
/// Memory stays proportional to the input: every length is checked against the bytes left before it is allocated.
/// Values: null, bool, long (BigInteger when larger), double, string, byte[], object?[] (tuple),
/// List&lt;object?&gt;, <see cref="PyDict"/>, <see cref="PyGlobal"/>, <see cref="PyObject"/>.
/// </summary>
internal sealed class Unpickler(Stream stream, string path)
{
    private static readonly object Mark = new();

    public Func<object?, object?> PersistentLoad { get; init; } = pid => throw new InvalidDataException("unexpected persistent id");
    public Func<PyGlobal, object?[], object?> Reduce { get; init; } = (f, a) => new PyObject(f, a);
    /// <summary>Which module-level names (GLOBAL, STACK_GLOBAL) the pickle may refer to; any other is refused.</summary>
    public Func<PyGlobal, bool> AllowGlobal { get; init; } = _ => false;

    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];

    /// <summary>Reads one pickle (up to and including STOP); the stream is left just after it.</summary>
    public object? Load()
    {
        _stack.Clear(); _marks.Clear(); _memo.Clear();
        while (true)
        {
            long at = stream.Position;
            int op = stream.ReadByte();
            if (op < 0) throw Fail(at, "ends before the pickle's STOP opcode (truncated file?)");
            try
            {
                if (op == '.') return _stack.Count == 1 ? _stack[0] : throw Fail(at, $"STOP with {_stack.Count} values on the stack");
                Step((byte)op);
            }
            catch (EndOfStreamException) { throw Fail(at, $"ends inside opcode 0x{op:X2} (truncated file?)"); }
            catch (InvalidCastException e) { throw Fail(at, $"unexpected value for opcode 0x{op:X2} ({e.Message})"); }
            catch (ArgumentOutOfRangeException) { throw Fail(at, $"stack underflow at opcode 0x{op:X2} (garbled pickle)"); }
            catch (InvalidDataException e) { throw Fail(at, e.Message); }
            catch (OverflowException) { throw Fail(at, $"implausible length at opcode 0x{op:X2} (garbled pickle)"); }
        }
    }

    private void Step(byte op)
    {
        switch (op)
        {
            case 0x80: ReadU8(); break;                                     // PROTO
            case 0x95: ReadBytes(8); break;                                 // FRAME (protocol 4): ignore framing
            case (byte)'(': _marks.Push(_stack.Count); break;               // MARK
            case (byte)'}': Push(new PyDict()); break;                      // EMPTY_DICT
            case (byte)'d': Push(ToDict(PopMark())); break;                 // DICT
            case (byte)']': Push(new List<object?>()); break;               // EMPTY_LIST
            case (byte)'l': Push(PopMark().ToList()); break;                // LIST
            case (byte)'a': { var v = Pop(); TopAs<List<object?>>().Add(v); break; }  // APPEND
            case (byte)'e': { var items = PopMark(); TopAs<List<object?>>().AddRange(items); break; }  // APPENDS
            case (byte)')': Push(Array.Empty<object?>()); break;            // EMPTY_TUPLE
            case (byte)'t': Push(PopMark()); break;                         // TUPLE
            case 0x85: Push(new[] { Pop() }); break;                        // TUPLE1
            case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }           // TUPLE2
            case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }  // TUPLE3
            case (byte)'X': Push(Encoding.UTF8.GetString(ReadBytes(ReadU32()))); break;          // BINUNICODE
            case 0x8C: Push(Encoding.UTF8.GetString(ReadBytes(ReadU8()))); break;                // SHORT_BINUNICODE
            case 0x8D: Push(Encoding.UTF8.GetString(ReadBytes(checked((int)ReadI64())))); break; // BINUNICODE8
            case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadU32()))); break;        // BINSTRING (Python 2 str)
            case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadU8()))); break;         // SHORT_BINSTRING
            case (byte)'B': Push(ReadBytes(ReadU32())); break;                                    // BINBYTES
            case (byte)'C': Push(ReadBytes(ReadU8())); break;                                     // SHORT_BINBYTES
            case (byte)'q': _memo[ReadU8()] = Top(); break;                 // BINPUT
            case (byte)'r': _memo[(uint)ReadU32()] = Top(); break;          // LONG_BINPUT
            case 0x94: _memo[_memo.Count] = Top(); break;                   // MEMOIZE
            case (byte)'h': Push(Get(ReadU8())); break;                     // BINGET
            case (byte)'j': Push(Get((uint)ReadU32())); break;              // LONG_BINGET
            case (byte)'c': Push(Global(ReadLine(), ReadLine())); break;    // GLOBAL
            case 0x93: { var name = PopAs<string>(); var module = PopAs<string>(); Push(Global(module, name)); break; }  // STACK_GLOBAL
            case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;   // BININT
            case (byte)'K': Push((long)ReadU8()); break;                    // BININT1
            case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;  // BININT2
            case 0x8A: Push(Long(ReadBytes(ReadU8()))); break;              // LONG1
            case 0x8B: Push(Long(ReadBytes(ReadU32()))); break;             // LONG4
            case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;           // BINFLOAT
            case 0x88: Push(true); break;                                   // NEWTRUE
            case 0x89: Push(false); break;                                  // NEWFALSE
            case (byte)'N': Push(null); break;                              // NONE
            case (byte)'R': { var args = PopAs<object?[]>(); var f = PopAs<PyGlobal>(); Push(Reduce(f, args)); break; }  // REDUCE
            case 0x81: { var args = PopAs<object?[]>(); var cls = PopAs<PyGlobal>(); Push(new PyObject(cls, args)); break; }  // NEWOBJ
            case (byte)'Q': Push(PersistentLoad(Pop())); break;             // BINPERSID
            case (byte)'s': { var v = Pop(); var k = Pop(); TopAs<PyDict>().Items.Add(new(k, v)); break; }  // SETITEM
            case (byte)'u': { var kv = PopMark(); var d = TopAs<PyDict>(); for (int i = 0; i + 1 < kv.Length; i += 2) d.Items.Add(new(kv[i], kv[i + 1])); break; }  // SETITEMS
            case (byte)'b': { var state = Pop(); SetState(Top(), state); break; }  // BUILD
            case (byte)'0': Pop(); break;                                   // POP
            case (byte)'1': PopMark(); break;                               // POP_MARK
            case (byte)'2': Push(Top()); break;                             // DUP
            default: throw new InvalidDataException($"unsupported pickle opcode 0x{op:X2} (not something torch.save writes for a state_dict)");
        }
    }

    private PyGlobal Global(string module, string name)
    {
        var g = new PyGlobal(module, name);
        return AllowGlobal(g) ? g
            : throw new InvalidDataException($"refers to {Printable(g.ToString())}, which a state_dict checkpoint does not need; " +
                                             "only plain tensors are read (as torch.load(weights_only=True) would), nothing is executed");
    }

    private static string Printable(string s) =>
        new(s.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private WeightsFormatException Fail(long at, string what) => WeightsFormatException.For(path, $"pickle at byte {at}: {what}");

    private void Push(object? v) => _stack.Add(v);
    private object? Top() => _stack[^1];

    private object? Pop()
    {
        var v = _stack[^1];
        if (ReferenceEquals(v, Mark)) throw new InvalidDataException("found a MARK where a value was expected");
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private T TopAs<T>() where T : class =>
        Top() as T ?? throw new InvalidDataException($"expected a {typeof(T).Name} on the pickle stack (garbled pickle)");

    private T PopAs<T>() where T : class =>
        Pop() as T ?? throw new InvalidDataException($"expected a {typeof(T).Name} on the pickle stack (garbled pickle)");

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw new InvalidDataException("no MARK to pop to (garbled pickle)");
        int m = _marks.Pop();
        if (m > _stack.Count) throw new InvalidDataException("a MARK's values were popped before it (garbled pickle)");
        var items = _stack.GetRange(m, _stack.Count - m).ToArray();
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private object? Get(long key) =>
        _memo.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"memo key {key} was never stored (garbled pickle)");

    private static PyDict ToDict(object?[] kv)
    {
        var d = new PyDict();
        for (int i = 0; i + 1 < kv.Length; i += 2) d.Items.Add(new(kv[i], kv[i + 1]));
        return d;
    }

    private static void SetState(object? target, object? state)
    {
        switch (target)
        {
            case PyDict d: d.State = state; break;
            case PyObject o: o.State = state; break;
            default: break;   // e.g. BUILD on a tensor reference: torch puts nothing there we need
        }
    }

    private static object Long(byte[] le)
    {
        var v = new BigInteger(le, isUnsigned: false, isBigEndian: false);
        // (object) on both branches: `cond ? (long)v : v` would convert the long back to a BigInteger.
        return v >= long.MinValue && v <= long.MaxValue ? (object)(long)v : v;
    }

    private int ReadU8()
    {
        int b = stream.ReadByte();
        return b < 0 ? throw new EndOfStreamException() : b;
    }

    private int ReadU32()
    {
        uint n = BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4));
        return n > int.MaxValue ? throw new InvalidDataException($"length {n} is implausible (garbled pickle)") : (int)n;
    }

    private long ReadI64() => BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8));

    private byte[] ReadBytes(int n)
    {
        if (n > stream.Length - stream.Position) throw new EndOfStreamException();
        var b = new byte[n];
        stream.ReadExactly(b);
        return b;
    }

    private string ReadLine()
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = ReadU8();
            if (b == '\n') return sb.ToString();
            if (sb.Length > 256) throw new InvalidDataException("GLOBAL name longer than 256 characters (garbled pickle)");
            sb.Append((char)b);
        }
    }
}
