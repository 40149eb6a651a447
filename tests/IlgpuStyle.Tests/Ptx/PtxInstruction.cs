// Test: tests/IlgpuStyle.Tests/Ptx/PtxInterpreterTests.cs
using System.Globalization;

namespace IlgpuStyle.Tests.Ptx;

public enum PtxOp
{
    Mov, Add, Sub, MulLo, MulWide, MulHi, Mul, MadLo, Fma, Div, Rem, Min, Max, Neg, Abs, Not, And, Or, Xor, Shl, Shr,
    Setp, Selp, Cvt, Cvta, Ld, St, Bra, Ret, BarSync, WarpSync, Mma, CpAsync, CpAsyncCommit, CpAsyncWait, Rcp, Sqrt,
}

public enum PtxType { B8, B16, B32, B64, U8, U16, U32, U64, S8, S16, S32, S64, F32, F64, Pred, Tf32, Bf16, Bf16x2 }

public enum PtxCompare { Eq, Ne, Lt, Le, Gt, Ge, Lo, Ls, Hi, Hs, Equ, Neu, Ltu, Leu, Gtu, Geu, Num, Nan }

public enum PtxOperandKind { Register, Immediate, Special, Address, Vector }

/// <summary>%tid, %ntid, %ctaid, %nctaid (x, y, z), %laneid, %warpid, %dynamic_smem_size (the launch's dynamic shared bytes).</summary>
public enum PtxSpecial { TidX, TidY, TidZ, NtidX, NtidY, NtidZ, CtaidX, CtaidY, CtaidZ, NctaidX, NctaidY, NctaidZ, LaneId, WarpId, DynamicSmemSize }

/// <summary>An operand: a register, an immediate (symbols resolved to their addresses), a special register, an address
/// (<c>[base + offset]</c>, base −1 for none), or a vector of registers (<c>{a, b, c, d}</c>).</summary>
public readonly record struct PtxOperand(PtxOperandKind Kind, int Register = -1, long Immediate = 0, PtxSpecial Special = default, int[]? Vector = null);

/// <summary>A decoded statement. <see cref="Guard"/>: the predicate register of <c>@p</c> / <c>@!p</c> (−1: none).</summary>
public sealed class PtxInstruction
{
    public PtxOp Op;
    public PtxType Type;
    public PtxType SourceType; // cvt
    public PtxCompare Compare; // setp
    public PtxSpace Space; // ld, st, cvta
    public int VectorWidth = 1; // ld.v4, st.v4
    public int ElementBytes; // ld, st: bytes per element
    public bool RoundToNearestAway; // cvt.rna
    public bool Bf16Mma; // mma m16n8k16 .bf16 (else m16n8k8 .tf32)
    public bool CpAsyncGlobalBypass; // cp.async.cg
    public int Guard = -1;
    public bool GuardNegated;
    public PtxOperand[] Operands = [];
    public string? TargetLabel;
    public int Target = -1;
    public int Line;
    public string Text = "";

    public override string ToString() => $"line {Line}: {Text}";
}

/// <summary>Decodes one statement (without its ';').</summary>
internal static class PtxInstructionParser
{
    public static PtxInstruction Parse(string text, int line, PtxProgram.IScope scope)
    {
        var instruction = new PtxInstruction { Line = line, Text = text };
        var s = text;
        if (s.StartsWith('@'))
        {
            int space = s.IndexOfAny([' ', '\t']);
            var guard = s[1..space];
            instruction.GuardNegated = guard.StartsWith('!');
            instruction.Guard = scope.Register(guard.TrimStart('!'), line);
            s = s[space..].TrimStart();
        }
        int split = s.IndexOfAny([' ', '\t']);
        var opcode = split < 0 ? s : s[..split];
        var operandText = split < 0 ? "" : s[split..].Trim();
        var parts = opcode.Split('.');
        var mods = parts[1..];
        try
        {
            Decode(instruction, parts[0], mods, opcode);
            instruction.Operands = SplitOperands(operandText).Select(o => Operand(o, line, scope, instruction)).ToArray();
        }
        catch (FormatException e) when (!e.Message.StartsWith("line ", StringComparison.Ordinal))
        {
            throw new FormatException($"line {line}: {e.Message} in '{text}'");
        }
        return instruction;
    }

    private static void Decode(PtxInstruction i, string name, string[] mods, string opcode)
    {
        PtxType Last() => TypeOf(mods[^1]);
        switch (name)
        {
            case "mov": i.Op = PtxOp.Mov; i.Type = Last(); break;
            case "add": i.Op = PtxOp.Add; i.Type = Last(); Allow(mods, "rn"); break;
            case "sub": i.Op = PtxOp.Sub; i.Type = Last(); Allow(mods, "rn"); break;
            case "min": i.Op = PtxOp.Min; i.Type = Last(); break;
            case "max": i.Op = PtxOp.Max; i.Type = Last(); break;
            case "mul":
                i.Type = Last();
                i.Op = mods.Contains("wide") ? PtxOp.MulWide : mods.Contains("hi") ? PtxOp.MulHi : mods.Contains("lo") ? PtxOp.MulLo : PtxOp.Mul;
                if (i.Op == PtxOp.Mul && !IsFloat(i.Type)) throw new FormatException("integer mul without .lo/.hi/.wide");
                Allow(mods, "rn", "lo", "hi", "wide");
                break;
            case "mad":
                i.Type = Last();
                if (IsFloat(i.Type)) { i.Op = PtxOp.Fma; Allow(mods, "rn"); }
                else { i.Op = PtxOp.MadLo; Allow(mods, "lo"); }
                break;
            case "fma": i.Op = PtxOp.Fma; i.Type = Last(); Allow(mods, "rn"); break;
            case "div": i.Op = PtxOp.Div; i.Type = Last(); Allow(mods, "rn"); break;
            case "rem": i.Op = PtxOp.Rem; i.Type = Last(); break;
            case "neg": i.Op = PtxOp.Neg; i.Type = Last(); break;
            case "abs": i.Op = PtxOp.Abs; i.Type = Last(); break;
            case "not": i.Op = PtxOp.Not; i.Type = Last(); break;
            case "and": i.Op = PtxOp.And; i.Type = Last(); break;
            case "or": i.Op = PtxOp.Or; i.Type = Last(); break;
            case "xor": i.Op = PtxOp.Xor; i.Type = Last(); break;
            case "shl": i.Op = PtxOp.Shl; i.Type = Last(); break;
            case "shr": i.Op = PtxOp.Shr; i.Type = Last(); break;
            case "rcp": i.Op = PtxOp.Rcp; i.Type = Last(); Allow(mods, "rn"); break;
            case "sqrt": i.Op = PtxOp.Sqrt; i.Type = Last(); Allow(mods, "rn"); break;
            case "selp": i.Op = PtxOp.Selp; i.Type = Last(); break;
            case "setp":
                i.Op = PtxOp.Setp;
                i.Compare = Enum.Parse<PtxCompare>(mods[0], ignoreCase: true);
                i.Type = Last();
                if (mods.Length != 2) throw new FormatException("setp with a boolean combination");
                break;
            case "cvt":
                i.Op = PtxOp.Cvt;
                i.Type = TypeOf(mods[^2]);
                i.SourceType = TypeOf(mods[^1]);
                i.RoundToNearestAway = mods.Contains("rna");
                Allow(mods[..^2], "rn", "rna", "rzi", "rni");
                if (i.Type == PtxType.Tf32 && !i.RoundToNearestAway && !mods.Contains("rn")) throw new FormatException("cvt to .tf32 other than .rna or .rn");
                if (i.Type == PtxType.Bf16x2 && (i.SourceType != PtxType.F32 || !mods.Contains("rn"))) throw new FormatException("cvt to .bf16x2 other than .rn from .f32");
                if (mods[..^2].Contains("rzi") || mods[..^2].Contains("rni")) throw new FormatException("float-to-integer cvt (not yet modelled)");
                break;
            case "cvta":
                i.Op = PtxOp.Cvta;
                i.Type = Last();
                if (mods.Length != 3 || mods[0] != "to" || mods[1] != "global") throw new FormatException("cvta other than .to.global");
                break;
            case "ld":
            case "st":
                i.Op = name == "ld" ? PtxOp.Ld : PtxOp.St;
                i.Space = mods[0] switch
                {
                    "global" => PtxSpace.Global, "shared" => PtxSpace.Shared, "local" => PtxSpace.Local,
                    "param" when name == "ld" => PtxSpace.Param,
                    _ => throw new FormatException($"{name} in state space .{mods[0]}"),
                };
                i.Type = Last();
                i.ElementBytes = PtxProgram.TypeBytes(mods[^1]);
                foreach (var m in mods[1..^1])
                    if (m.StartsWith('v')) i.VectorWidth = int.Parse(m[1..], CultureInfo.InvariantCulture);
                    else if (m is not ("ca" or "cg" or "nc")) throw new FormatException($"{name} modifier .{m}");
                break;
            case "bra": i.Op = PtxOp.Bra; Allow(mods, "uni"); break;
            case "ret": case "exit": i.Op = PtxOp.Ret; break;
            case "bar" when mods is ["sync"]: case "barrier" when mods is ["sync"]: i.Op = PtxOp.BarSync; break;
            case "bar" when mods is ["warp", "sync"]: i.Op = PtxOp.WarpSync; break;
            case "mma":
                i.Op = PtxOp.Mma;
                if (opcode == "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32") i.Bf16Mma = false;
                else if (opcode == "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32") i.Bf16Mma = true;
                else throw new FormatException($"{opcode} (only m16n8k8 .tf32 and m16n8k16 .bf16 with .f32 accumulators)");
                break;
            case "cp":
                if (opcode is "cp.async.commit_group") i.Op = PtxOp.CpAsyncCommit;
                else if (opcode is "cp.async.wait_group" or "cp.async.wait_all") i.Op = PtxOp.CpAsyncWait;
                else if (opcode is "cp.async.ca.shared.global" or "cp.async.cg.shared.global")
                {
                    i.Op = PtxOp.CpAsync;
                    i.CpAsyncGlobalBypass = mods[1] == "cg";
                }
                else throw new FormatException($"{opcode}");
                break;
            default: throw new FormatException($"instruction {opcode}");
        }
    }

    private static void Allow(string[] mods, params string[] allowed)
    {
        foreach (var m in mods)
            if (!allowed.Contains(m) && !IsTypeName(m)) throw new FormatException($"modifier .{m}");
    }

    private static bool IsTypeName(string m) =>
        m is "b8" or "b16" or "b32" or "b64" or "u8" or "u16" or "u32" or "u64" or "s8" or "s16" or "s32" or "s64" or "f32" or "f64" or "pred" or "tf32" or "bf16" or "bf16x2";

    public static PtxType TypeOf(string m) => m switch
    {
        "b8" => PtxType.B8, "b16" => PtxType.B16, "b32" => PtxType.B32, "b64" => PtxType.B64,
        "u8" => PtxType.U8, "u16" => PtxType.U16, "u32" => PtxType.U32, "u64" => PtxType.U64,
        "s8" => PtxType.S8, "s16" => PtxType.S16, "s32" => PtxType.S32, "s64" => PtxType.S64,
        "f32" => PtxType.F32, "f64" => PtxType.F64, "pred" => PtxType.Pred, "tf32" => PtxType.Tf32, "bf16" => PtxType.Bf16, "bf16x2" => PtxType.Bf16x2,
        _ => throw new FormatException($"type .{m}"),
    };

    public static bool IsFloat(PtxType t) => t is PtxType.F32 or PtxType.F64;

    private static List<string> SplitOperands(string text)
    {
        var result = new List<string>();
        int depth = 0, start = 0;
        for (int k = 0; k < text.Length; k++)
        {
            char c = text[k];
            if (c is '{' or '[') depth++;
            else if (c is '}' or ']') depth--;
            else if (c == ',' && depth == 0)
            {
                result.Add(text[start..k].Trim());
                start = k + 1;
            }
        }
        if (text.Trim().Length > 0) result.Add(text[start..].Trim());
        return result;
    }

    private static PtxOperand Operand(string o, int line, PtxProgram.IScope scope, PtxInstruction instruction)
    {
        if (o.StartsWith('{'))
            return new PtxOperand(PtxOperandKind.Vector, Vector: o.Trim('{', '}').Split(',').Select(r => scope.Register(r.Trim(), line)).ToArray());
        if (o.StartsWith('['))
        {
            var inner = o.Trim('[', ']').Trim();
            long offset = 0;
            int plus = inner.IndexOf('+');
            if (plus >= 0)
            {
                offset = long.Parse(inner[(plus + 1)..].Trim(), CultureInfo.InvariantCulture);
                inner = inner[..plus].Trim();
            }
            if (scope.TrySymbol(inner, out long address, out var space))
            {
                if (space != instruction.Space && instruction.Op is PtxOp.Ld or PtxOp.St)
                    throw new FormatException($"{inner} is a .{space.ToString().ToLowerInvariant()} symbol");
                return new PtxOperand(PtxOperandKind.Address, -1, address + offset);
            }
            return new PtxOperand(PtxOperandKind.Address, scope.Register(inner, line), offset);
        }
        if (instruction.Op == PtxOp.Bra)
        {
            instruction.TargetLabel = o;
            return new PtxOperand(PtxOperandKind.Immediate);
        }
        if (o.StartsWith('%'))
        {
            var special = o switch
            {
                "%tid.x" => PtxSpecial.TidX, "%tid.y" => PtxSpecial.TidY, "%tid.z" => PtxSpecial.TidZ,
                "%ntid.x" => PtxSpecial.NtidX, "%ntid.y" => PtxSpecial.NtidY, "%ntid.z" => PtxSpecial.NtidZ,
                "%ctaid.x" => PtxSpecial.CtaidX, "%ctaid.y" => PtxSpecial.CtaidY, "%ctaid.z" => PtxSpecial.CtaidZ,
                "%nctaid.x" => PtxSpecial.NctaidX, "%nctaid.y" => PtxSpecial.NctaidY, "%nctaid.z" => PtxSpecial.NctaidZ,
                "%laneid" => PtxSpecial.LaneId, "%warpid" => PtxSpecial.WarpId, "%dynamic_smem_size" => PtxSpecial.DynamicSmemSize,
                _ => (PtxSpecial?)null,
            };
            if (special is { } sp) return new PtxOperand(PtxOperandKind.Special, Special: sp);
        }
        if (o.StartsWith("0f", StringComparison.Ordinal) && o.Length == 10)
            return new PtxOperand(PtxOperandKind.Immediate, Immediate: long.Parse(o[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        if (o.StartsWith("0d", StringComparison.Ordinal) && o.Length == 18)
            return new PtxOperand(PtxOperandKind.Immediate, Immediate: (long)ulong.Parse(o[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        if (o.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return new PtxOperand(PtxOperandKind.Immediate, Immediate: (long)ulong.Parse(o[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        if (o.Length > 0 && (char.IsDigit(o[0]) || o[0] == '-'))
        {
            // Decimal immediates may exceed long (e.g. 4294967295 is fine; 64-bit unsigned masks are not written by ILGPU).
            if (long.TryParse(o, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                return new PtxOperand(PtxOperandKind.Immediate, Immediate: value);
            return new PtxOperand(PtxOperandKind.Immediate, Immediate: (long)ulong.Parse(o, CultureInfo.InvariantCulture));
        }
        if (scope.TrySymbol(o, out long symbol, out _))
            return new PtxOperand(PtxOperandKind.Immediate, Immediate: symbol);
        return new PtxOperand(PtxOperandKind.Register, scope.Register(o, line));
    }
}
