// Test: tests/IlgpuStyle.Tests/Ptx/PtxInterpreterTests.cs (hand-written PTX for each instruction family; every kernel the
// "ptx" test device launches goes through this parser)
using System.Globalization;
using System.Text.RegularExpressions;

namespace IlgpuStyle.Tests.Ptx;

/// <summary>
/// One PTX entry point parsed for <see cref="PtxMachine"/>: the subset of PTX ISA 8.x that ILGPU 1.5.3's PTX backend and
/// this project's inline asm (mma.sync, cvt.rna.tf32, cp.async) write. Anything else is a <see cref="FormatException"/>
/// naming the line, so an unknown instruction can never be skipped silently.
/// </summary>
public sealed partial class PtxProgram
{
    public required string Name { get; init; }
    public required IReadOnlyList<PtxParameter> Parameters { get; init; }
    public required int ParameterBytes { get; init; }
    public required int RegisterCount { get; init; }
    public required int SharedBytes { get; init; }
    /// <summary>Whether the kernel declares dynamic shared memory (<c>.extern .shared</c>): it starts at shared address 0, a launch says its size.</summary>
    public required bool DynamicShared { get; init; }
    public required int LocalBytes { get; init; }
    /// <summary>.maxntid's product, or 0 when the entry has none.</summary>
    public required int MaxThreads { get; init; }
    public required PtxInstruction[] Code { get; init; }

    /// <summary>Parses the one <c>.entry</c> of <paramref name="ptx"/> (ILGPU writes one per module).</summary>
    public static PtxProgram Parse(string ptx)
    {
        var lines = ptx.Split('\n');
        int at = Array.FindIndex(lines, l => l.Contains(".entry", StringComparison.Ordinal));
        if (at < 0) throw new FormatException("no .entry in the PTX");
        var name = EntryName().Match(lines[at]).Groups[1].Value;

        var parameters = new List<PtxParameter>();
        int paramBytes = 0;
        int i = at + 1;
        for (; i < lines.Length && !lines[i].TrimStart().StartsWith(')'); i++)
        {
            var m = ParamDecl().Match(lines[i]);
            if (!m.Success) continue;
            int align = m.Groups[1].Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            int size = TypeBytes(m.Groups[2].Value) * (m.Groups[4].Success ? int.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture) : 1);
            if (align == 0) align = TypeBytes(m.Groups[2].Value);
            paramBytes = Align(paramBytes, align);
            parameters.Add(new PtxParameter(m.Groups[3].Value, paramBytes, size, align));
            paramBytes += size;
        }

        int maxThreads = 0;
        for (; i < lines.Length && !lines[i].Contains('{'); i++)
        {
            var m = MaxNtid().Match(lines[i]);
            if (m.Success)
                maxThreads = m.Groups[1].Value.Split(',').Select(s => int.Parse(s.Trim(), CultureInfo.InvariantCulture)).Aggregate(1, (a, b) => a * b);
        }

        // Module-level declarations before the entry: ILGPU's dynamic shared memory, `.extern .shared .align N .b8 name[];`.
        var parser = new BodyParser(parameters);
        foreach (var line in lines[..at])
        {
            var extern_ = ExternSharedDecl().Match(line.Trim());
            if (extern_.Success) parser.DeclareDynamicShared(extern_.Groups[1].Value);
            else if (line.TrimStart().StartsWith(".extern", StringComparison.Ordinal) || line.TrimStart().StartsWith(".shared", StringComparison.Ordinal))
                throw new FormatException($"unsupported module-level declaration '{line.Trim()}'");
        }
        parser.Run(lines, i);
        return new PtxProgram
        {
            Name = name,
            Parameters = parameters,
            ParameterBytes = paramBytes,
            RegisterCount = parser.RegisterCount,
            SharedBytes = parser.SharedBytes,
            DynamicShared = parser.DynamicShared,
            LocalBytes = parser.LocalBytes,
            MaxThreads = maxThreads,
            Code = parser.Resolve(),
        };
    }

    internal static int Align(int offset, int align) => (offset + align - 1) / align * align;

    internal static int TypeBytes(string type) => type switch
    {
        "b8" or "u8" or "s8" or "pred" => 1,
        "b16" or "u16" or "s16" or "f16" or "bf16" => 2,
        "b32" or "u32" or "s32" or "f32" or "tf32" => 4,
        "b64" or "u64" or "s64" or "f64" => 8,
        _ => throw new FormatException($"unknown PTX type .{type}"),
    };

    [GeneratedRegex(@"\.entry\s+([A-Za-z_$][\w$]*)")]
    private static partial Regex EntryName();

    [GeneratedRegex(@"^\.extern\s+\.shared\s+(?:\.align\s+\d+\s+)?\.b8\s+([A-Za-z_$][\w$]*)\[\];$")]
    private static partial Regex ExternSharedDecl();

    [GeneratedRegex(@"^\s*\.param\s+(?:\.align\s+(\d+)\s+)?\.(\w+)\s+([A-Za-z_$][\w$]*)(?:\[(\d+)\])?")]
    private static partial Regex ParamDecl();

    [GeneratedRegex(@"\.maxntid\s+([\d,\s]+)")]
    private static partial Regex MaxNtid();

    /// <summary>Parses an entry's body: declarations, labels, statements; scopes (<c>{ … }</c>) rename their registers.</summary>
    private sealed partial class BodyParser(List<PtxParameter> parameters)
    {
        private readonly List<Dictionary<string, int>> scopes = [];
        private readonly Dictionary<string, long> symbols = new(StringComparer.Ordinal); // shared and local arrays: their addresses
        private readonly Dictionary<string, PtxSpace> symbolSpaces = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> labels = new(StringComparer.Ordinal);
        private readonly List<PtxInstruction> code = [];
        public int RegisterCount { get; private set; }
        public int SharedBytes { get; private set; }
        public int LocalBytes { get; private set; }
        public bool DynamicShared { get; private set; }

        /// <summary>
        /// The dynamic shared array <paramref name="name"/>: at shared address 0, its size the launch's. Supported only in a
        /// kernel with no static shared array (what ILGPU writes when a kernel's one array is dynamic), where no offset is needed.
        /// </summary>
        public void DeclareDynamicShared(string name)
        {
            if (DynamicShared) throw new FormatException($"a second dynamic shared array, {name}");
            symbols[name] = 0;
            symbolSpaces[name] = PtxSpace.Shared;
            DynamicShared = true;
        }

        public void Run(string[] lines, int start)
        {
            int depth = 0;
            for (int n = start; n < lines.Length; n++)
            {
                var text = lines[n];
                int comment = text.IndexOf("//", StringComparison.Ordinal);
                if (comment >= 0) text = text[..comment];
                var rest = text.AsSpan().Trim();
                while (rest.Length > 0)
                {
                    if (rest[0] == '{')
                    {
                        depth++;
                        scopes.Add(new Dictionary<string, int>(StringComparer.Ordinal));
                        rest = rest[1..].TrimStart();
                        continue;
                    }
                    if (rest[0] == '}')
                    {
                        depth--;
                        scopes.RemoveAt(scopes.Count - 1);
                        if (depth == 0) return;
                        rest = rest[1..].TrimStart();
                        continue;
                    }
                    var label = LabelDef().Match(rest.ToString());
                    if (label.Success)
                    {
                        labels[label.Groups[1].Value] = code.Count;
                        rest = rest[label.Length..].TrimStart();
                        continue;
                    }
                    int end = rest.IndexOf(';');
                    if (end < 0) throw new FormatException($"line {n + 1}: no ';' in '{rest.ToString()}'");
                    Statement(rest[..end].ToString().Trim(), n + 1);
                    rest = rest[(end + 1)..].TrimStart();
                }
            }
            throw new FormatException("the entry's body does not end");
        }

        private void Statement(string s, int line)
        {
            if (s.StartsWith(".reg", StringComparison.Ordinal)) { DeclareRegisters(s, line); return; }
            if (s.StartsWith(".shared", StringComparison.Ordinal) || s.StartsWith(".local", StringComparison.Ordinal))
            {
                var m = ArrayDecl().Match(s);
                if (!m.Success) throw new FormatException($"line {line}: {s}");
                var space = m.Groups[1].Value == "shared" ? PtxSpace.Shared : PtxSpace.Local;
                int align = m.Groups[2].Success ? int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : 4;
                int bytes = TypeBytes(m.Groups[3].Value) * int.Parse(m.Groups[5].Value, CultureInfo.InvariantCulture);
                if (space == PtxSpace.Shared)
                {
                    if (DynamicShared) throw new FormatException($"line {line}: a static shared array beside dynamic shared memory (not supported)");
                    SharedBytes = Align(SharedBytes, align);
                    symbols[m.Groups[4].Value] = SharedBytes;
                    SharedBytes += bytes;
                }
                else
                {
                    LocalBytes = Align(LocalBytes, align);
                    symbols[m.Groups[4].Value] = LocalBytes;
                    LocalBytes += bytes;
                }
                symbolSpaces[m.Groups[4].Value] = space;
                return;
            }
            if (s.StartsWith('.')) throw new FormatException($"line {line}: unsupported directive '{s}'");
            code.Add(PtxInstructionParser.Parse(s, line, this));
        }

        private void DeclareRegisters(string s, int line)
        {
            var m = RegDecl().Match(s);
            if (!m.Success) throw new FormatException($"line {line}: {s}");
            var scope = scopes[^1];
            foreach (var item in m.Groups[2].Value.Split(','))
            {
                var name = item.Trim();
                var range = RegRange().Match(name);
                if (range.Success)
                {
                    int count = int.Parse(range.Groups[2].Value, CultureInfo.InvariantCulture);
                    for (int k = 0; k < count; k++) scope[range.Groups[1].Value + k.ToString(CultureInfo.InvariantCulture)] = RegisterCount++;
                }
                else scope[name] = RegisterCount++;
            }
        }

        public int Register(string name, int line)
        {
            for (int s = scopes.Count - 1; s >= 0; s--)
                if (scopes[s].TryGetValue(name, out int index)) return index;
            throw new FormatException($"line {line}: undeclared register {name}");
        }

        public bool TrySymbol(string name, out long address, out PtxSpace space)
        {
            space = default;
            if (symbols.TryGetValue(name, out address)) { space = symbolSpaces[name]; return true; }
            var p = parameters.FirstOrDefault(x => x.Name == name);
            if (p is not null) { address = p.Offset; space = PtxSpace.Param; return true; }
            return false;
        }

        public PtxInstruction[] Resolve()
        {
            var result = new PtxInstruction[code.Count];
            for (int k = 0; k < code.Count; k++)
            {
                var instruction = code[k];
                if (instruction.TargetLabel is { } label)
                {
                    if (!labels.TryGetValue(label, out int target)) throw new FormatException($"line {instruction.Line}: no label {label}");
                    instruction.Target = target;
                }
                result[k] = instruction;
            }
            return result;
        }

        [GeneratedRegex(@"^([A-Za-z_$][\w$]*):")]
        private static partial Regex LabelDef();

        [GeneratedRegex(@"^\.reg\s+\.(\w+)\s+(.+)$")]
        private static partial Regex RegDecl();

        [GeneratedRegex(@"^(%?[A-Za-z_$][\w$]*)<(\d+)>$")]
        private static partial Regex RegRange();

        [GeneratedRegex(@"^\.(shared|local)\s+(?:\.align\s+(\d+)\s+)?\.(\w+)\s+([A-Za-z_$][\w$]*)\[(\d+)\]$")]
        private static partial Regex ArrayDecl();
    }

    /// <summary>What <see cref="PtxInstructionParser"/> needs from the body: registers and symbols in scope.</summary>
    internal interface IScope
    {
        int Register(string name, int line);
        bool TrySymbol(string name, out long address, out PtxSpace space);
    }

    private sealed partial class BodyParser : IScope;
}

/// <summary>A kernel parameter: its name and its place in the parameter block (<c>ld.param</c> reads it there).</summary>
public sealed record PtxParameter(string Name, int Offset, int Bytes, int Align);

public enum PtxSpace { Global, Shared, Local, Param }
