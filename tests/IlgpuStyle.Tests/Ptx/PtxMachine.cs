// Test: tests/IlgpuStyle.Tests/Ptx/PtxInterpreterTests.cs (each instruction family, the mma fragments against a plain
// matrix product, cp.async's groups, the barrier, bounds and race checks) and, through the "ptx" test device, the
// tensor-core and shared-memory kernels against their CPU references (tests/IlgpuStyle.Tests/Kernels/TensorCores)
using System.Runtime.InteropServices;

namespace IlgpuStyle.Tests.Ptx;

/// <summary>
/// Runs a <see cref="PtxProgram"/> the way the PTX ISA describes it, one thread block at a time, so that the PTX the CUDA
/// path loads (ILGPU's code, the inline asm, the rewritten depots) is executed somewhere before a GPU is at hand. Not a
/// GPU model: no timing, no caches; each thread runs alone until it reaches a collective (bar.sync, bar.warp.sync,
/// mma.sync), which completes when every thread it waits for has reached it. What a GPU leaves undefined fails loudly
/// here (<see cref="PtxFault"/>): global accesses outside the kernel's buffers or misaligned, shared or local accesses
/// outside their arrays, an mma.sync not reached by all 32 lanes at the same instruction, a barrier that can never
/// complete; global-memory races (<see cref="PtxGlobalMemory"/>: a word one block writes, touched by another block or
/// by another thread of the block with no bar.sync between); and shared-memory races between barriers — a read of a
/// word another thread wrote, or a write (cp.async's at its issue) to a word another thread read, with no bar.sync
/// (bar.warp.sync within a warp) in between. Shared memory starts as 0xFF bytes (a NaN in every float), so a read of a
/// word nothing wrote shows in the results. cp.async copies land when a cp.async.wait_group completes their group, not
/// before.
/// Numerics: f32 arithmetic is IEEE round-to-nearest, each mul and add rounded on its own (ptxas may fuse them into
/// fma on a GPU: results may differ in the last bits); mma.sync multiplies the operands' tf32 (top 19 bits) or bf16
/// values exactly and adds the products and the accumulator in double, rounded to f32 once.
/// </summary>
public sealed class PtxMachine(PtxProgram program, PtxGlobalMemory global)
{
    private readonly PtxProgram program = program;
    private readonly PtxGlobalMemory global = global;
    public const int WarpSize = 32;
    private const byte SharedFill = 0xFF;

    /// <summary>Instructions executed by the last <see cref="Launch"/> (all threads).</summary>
    public long Executed => Interlocked.Read(ref executed);

    /// <summary>
    /// Runs the kernel over <paramref name="grid"/> blocks of <paramref name="block"/> threads; a kernel with dynamic shared
    /// memory gets <paramref name="dynamicSharedBytes"/> of it per block (a static kernel none).
    /// </summary>
    public void Launch((int X, int Y, int Z) grid, (int X, int Y, int Z) block, byte[] parameters, int dynamicSharedBytes = 0)
    {
        if (dynamicSharedBytes < 0 || (dynamicSharedBytes > 0 && !program.DynamicShared))
            throw new ArgumentException($"{program.Name}: {dynamicSharedBytes} bytes of dynamic shared memory for a kernel that declares {(program.DynamicShared ? "it" : "none")}");
        if (parameters.Length < program.ParameterBytes)
            throw new ArgumentException($"{program.Name}: {parameters.Length} parameter bytes, the entry declares {program.ParameterBytes}");
        int threads = block.X * block.Y * block.Z;
        if (threads <= 0 || threads > 1024) throw new PtxFault($"{program.Name}: {threads} threads per block");
        if (program.MaxThreads > 0 && threads > program.MaxThreads)
            throw new PtxFault($"{program.Name}: {threads} threads per block, .maxntid allows {program.MaxThreads}");
        executed = 0;
        global.BeginLaunch();
        // Blocks are independent (a kernel whose blocks write the same element is wrong on a GPU too): they run on
        // the cores, each worker with its own block storage, in a fixed order per worker.
        int blocks = grid.X * grid.Y * grid.Z;
        int workers = Math.Min(blocks, Environment.ProcessorCount);
        try
        {
            Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, worker =>
            {
                var state = new BlockState(program, threads, dynamicSharedBytes);
                for (int n = worker; n < blocks; n += workers)
                {
                    state.Reset();
                    new BlockRun(this, state, parameters, grid, block, (n % grid.X, n / grid.X % grid.Y, n / (grid.X * grid.Y))).Run();
                }
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerExceptions[0]).Throw();
        }
    }

    private long executed;

    /// <summary>Per-block storage, reused across blocks.</summary>
    private sealed class BlockState(PtxProgram program, int threads, int dynamicSharedBytes)
    {
        public readonly ulong[] Registers = new ulong[(long)threads * program.RegisterCount];
        public readonly byte[] Local = new byte[(long)threads * program.LocalBytes];
        public readonly byte[] Shared = new byte[program.SharedBytes + dynamicSharedBytes];
        public readonly SharedWord[] Words = new SharedWord[(program.SharedBytes + dynamicSharedBytes + 3) / 4];
        public readonly int Threads = threads;

        public void Reset()
        {
            Array.Clear(Registers);
            Array.Clear(Local);
            Array.Fill(Shared, SharedFill);
            Array.Fill(Words, SharedWord.Untouched);
        }
    }

    /// <summary>Who last wrote and read a shared word, and in which barrier intervals (for the race check).</summary>
    private struct SharedWord
    {
        public int Writer, WriteBlockEpoch, WriteWarpEpoch;
        public int Reader, ReadBlockEpoch, ReadWarpEpoch; // Reader: a thread, ManyInWarp (ReaderWarp's lanes) or ManyWarps
        public int ReaderWarp;
        public static readonly SharedWord Untouched = new() { Writer = -1, Reader = -1 };
    }

    private const int ManyInWarp = -2, ManyWarps = -3;

    private enum Wait { None, Bar, WarpSync, Mma, Exited }

    private sealed class CopyGroup { public readonly List<(long Dst, long Src, int Bytes, int SrcBytes, PtxInstruction Issued)> Copies = []; }

    private sealed class BlockRun
    {
        private readonly PtxMachine machine;
        private readonly PtxProgram program;
        private readonly BlockState s;
        private readonly byte[] parameters;
        private readonly (int X, int Y, int Z) grid, block, blockIndex;
        private readonly int threads, regs, warps, linearBlock;
        private readonly int[] pc;
        private readonly Wait[] wait;
        private readonly List<CopyGroup>[] committed;
        private readonly CopyGroup[] open;
        private int blockEpoch;
        private readonly int[] warpEpoch;
        private readonly PtxInstruction[] code;

        public BlockRun(PtxMachine machine, BlockState state, byte[] parameters, (int, int, int) grid, (int, int, int) block, (int, int, int) blockIndex)
        {
            this.machine = machine;
            program = machine.program;
            s = state;
            this.parameters = parameters;
            this.grid = grid;
            this.block = block;
            this.blockIndex = blockIndex;
            linearBlock = this.blockIndex.X + this.grid.X * (this.blockIndex.Y + this.grid.Y * this.blockIndex.Z);
            threads = state.Threads;
            regs = program.RegisterCount;
            warps = (threads + WarpSize - 1) / WarpSize;
            pc = new int[threads];
            wait = new Wait[threads];
            committed = new List<CopyGroup>[threads];
            open = new CopyGroup[threads];
            for (int t = 0; t < threads; t++) { committed[t] = []; open[t] = new CopyGroup(); }
            warpEpoch = new int[warps];
            code = program.Code;
        }

        public void Run()
        {
            while (true)
            {
                for (int t = 0; t < threads; t++)
                    if (wait[t] == Wait.None) Step(t);
                if (Array.TrueForAll(wait, w => w == Wait.Exited)) return;
                if (!Release()) throw Fault(-1, "deadlock: " + Describe());
            }
        }

        // Completes whatever collective every thread it needs has reached. Returns whether any did (or none was pending).
        private bool Release()
        {
            bool released = false, pending = false;
            int atBar = 0, exited = 0;
            for (int w = 0; w < warps; w++)
            {
                int first = w * WarpSize, end = Math.Min(threads, first + WarpSize);
                int mma = 0, warpSync = 0, gone = 0, bar = 0;
                for (int t = first; t < end; t++)
                    switch (wait[t])
                    {
                        case Wait.Mma: mma++; break;
                        case Wait.WarpSync: warpSync++; break;
                        case Wait.Exited: gone++; break;
                        case Wait.Bar: bar++; break;
                    }
                atBar += bar;
                exited += gone;
                int lanes = end - first;
                if (mma > 0 && mma + gone + bar + warpSync == lanes)
                {
                    // Every lane is waiting: the product runs only if all 32 reached the same mma.sync.
                    if (gone > 0) throw Fault(first, "mma.sync after some lanes of the warp exited");
                    if (mma != lanes) throw Fault(first, "mma.sync while other lanes of the warp wait at a barrier: " + Describe());
                    if (lanes != WarpSize) throw Fault(first, $"mma.sync in a warp of {lanes} threads");
                    int at = pc[first];
                    for (int t = first; t < end; t++)
                        if (pc[t] != at) throw Fault(first, "mma.sync reached at different instructions: " + Describe());
                    Mma(first, code[at]);
                    for (int t = first; t < end; t++) { wait[t] = Wait.None; pc[t]++; }
                    released = true;
                }
                else if (warpSync > 0 && warpSync + gone == lanes)
                {
                    if (gone > 0) throw Fault(first, "bar.warp.sync with the full mask after some lanes of the warp exited");
                    warpEpoch[w]++;
                    for (int t = first; t < end; t++) { wait[t] = Wait.None; pc[t]++; }
                    released = true;
                }
                else if (mma + warpSync > 0) pending = true;
            }
            if (!released && !pending && atBar > 0 && atBar + exited == threads)
            {
                blockEpoch++;
                for (int w = 0; w < warps; w++) warpEpoch[w]++;
                for (int t = 0; t < threads; t++)
                    if (wait[t] == Wait.Bar) { wait[t] = Wait.None; pc[t]++; }
                released = true;
            }
            return released;
        }

        private string Describe() =>
            string.Join("; ", Enumerable.Range(0, threads).GroupBy(t => (wait[t], wait[t] == Wait.Exited ? -1 : pc[t]))
                .Select(g => $"{g.Count()} thread(s) {g.Key.Item1} at {(g.Key.Item2 >= 0 ? code[g.Key.Item2].ToString() : "exit")}"));

        private PtxFault Fault(int thread, string what) =>
            new($"{program.Name} block ({blockIndex.X},{blockIndex.Y},{blockIndex.Z})" + (thread >= 0 ? $" thread {thread}" : "") + ": " + what);

        private PtxFault Fault(int thread, PtxInstruction i, string what) => Fault(thread, $"{i}: {what}");

        // ---- one thread until it waits or exits ----

        private void Step(int t)
        {
            int p = pc[t];
            long rb = (long)t * regs;
            var r = s.Registers;
            long executed = 0;
            try
            {
                while (true)
                {
                    var i = code[p];
                    executed++;
                    if (i.Guard >= 0 && (r[rb + i.Guard] != 0) == i.GuardNegated) { p++; continue; }
                    var o = i.Operands;
                    switch (i.Op)
                    {
                        case PtxOp.Bra: p = i.Target; continue;
                        case PtxOp.Ret: wait[t] = Wait.Exited; pc[t] = p; return;
                        case PtxOp.BarSync:
                            if (Get(t, rb, o[0]) != 0) throw Fault(t, i, "barrier other than 0");
                            wait[t] = Wait.Bar; pc[t] = p; return;
                        case PtxOp.WarpSync:
                            if ((uint)Get(t, rb, o[0]) != 0xFFFFFFFFu) throw Fault(t, i, "bar.warp.sync with a partial mask");
                            wait[t] = Wait.WarpSync; pc[t] = p; return;
                        case PtxOp.Mma: wait[t] = Wait.Mma; pc[t] = p; return;
                        case PtxOp.Mov: Set(rb, o[0], i.Type, Get(t, rb, o[1])); break;
                        case PtxOp.Ld: Load(t, rb, i); break;
                        case PtxOp.St: Store(t, rb, i); break;
                        case PtxOp.Setp: r[rb + o[0].Register] = Compare(i, Get(t, rb, o[1]), Get(t, rb, o[2])) ? 1UL : 0UL; break;
                        case PtxOp.Selp: Set(rb, o[0], i.Type, Get(t, rb, o[3]) != 0 ? Get(t, rb, o[1]) : Get(t, rb, o[2])); break;
                        case PtxOp.Cvta: Set(rb, o[0], i.Type, Get(t, rb, o[1])); break;
                        case PtxOp.Cvt when i.Type == PtxType.Bf16x2:
                            // cvt.rn.bf16x2.f32 d, a, b: a rounded to BF16 in d's upper half, b in its lower half.
                            Set(rb, o[0], i.Type, (RoundBf16(Get(t, rb, o[1])) << 16) | RoundBf16(Get(t, rb, o[2])));
                            break;
                        case PtxOp.Cvt: Set(rb, o[0], i.Type, Convert(i, Get(t, rb, o[1]))); break;
                        case PtxOp.CpAsync: IssueCopy(t, rb, i); break;
                        case PtxOp.CpAsyncCommit: committed[t].Add(open[t]); open[t] = new CopyGroup(); break;
                        case PtxOp.CpAsyncWait:
                        {
                            if (o.Length == 0) { committed[t].Add(open[t]); open[t] = new CopyGroup(); } // wait_all
                            int keep = o.Length == 0 ? 0 : (int)Get(t, rb, o[0]);
                            while (committed[t].Count > keep)
                            {
                                foreach (var c in committed[t][0].Copies) CompleteCopy(t, c);
                                committed[t].RemoveAt(0);
                            }
                            break;
                        }
                        default: Arithmetic(t, rb, i); break;
                    }
                    p++;
                }
            }
            catch (PtxFault) { throw; }
            catch (Exception e) when (e is DivideByZeroException or OverflowException or IndexOutOfRangeException)
            {
                throw Fault(t, code[p], e.Message);
            }
            finally { Interlocked.Add(ref machine.executed, executed); }
        }

        private ulong Get(int t, long rb, in PtxOperand o) => o.Kind switch
        {
            PtxOperandKind.Register => s.Registers[rb + o.Register],
            PtxOperandKind.Immediate => (ulong)o.Immediate,
            PtxOperandKind.Special => Special(t, o.Special),
            _ => throw new InvalidOperationException($"operand {o.Kind} read as a value"),
        };

        private ulong Special(int t, PtxSpecial special)
        {
            int tx = t % block.X, ty = t / block.X % block.Y, tz = t / (block.X * block.Y);
            return special switch
            {
                PtxSpecial.TidX => (ulong)tx, PtxSpecial.TidY => (ulong)ty, PtxSpecial.TidZ => (ulong)tz,
                PtxSpecial.NtidX => (ulong)block.X, PtxSpecial.NtidY => (ulong)block.Y, PtxSpecial.NtidZ => (ulong)block.Z,
                PtxSpecial.CtaidX => (ulong)blockIndex.X, PtxSpecial.CtaidY => (ulong)blockIndex.Y, PtxSpecial.CtaidZ => (ulong)blockIndex.Z,
                PtxSpecial.NctaidX => (ulong)grid.X, PtxSpecial.NctaidY => (ulong)grid.Y, PtxSpecial.NctaidZ => (ulong)grid.Z,
                PtxSpecial.LaneId => (ulong)(t % WarpSize),
                PtxSpecial.WarpId => (ulong)(t / WarpSize),
                PtxSpecial.DynamicSmemSize => (ulong)(s.Shared.Length - program.SharedBytes),
                _ => throw new InvalidOperationException(special.ToString()),
            };
        }

        private void Set(long rb, in PtxOperand d, PtxType type, ulong value)
        {
            if (d.Kind != PtxOperandKind.Register) throw new InvalidOperationException("destination is not a register");
            s.Registers[rb + d.Register] = Truncate(type, value);
        }

        private static ulong Truncate(PtxType type, ulong v) => type switch
        {
            PtxType.B64 or PtxType.U64 or PtxType.S64 or PtxType.F64 => v,
            PtxType.B32 or PtxType.U32 or PtxType.S32 or PtxType.F32 or PtxType.Tf32 or PtxType.Bf16x2 => v & 0xFFFFFFFFUL,
            PtxType.B16 or PtxType.U16 or PtxType.S16 or PtxType.Bf16 => v & 0xFFFFUL,
            PtxType.B8 or PtxType.U8 or PtxType.S8 => v & 0xFFUL,
            PtxType.Pred => v != 0 ? 1UL : 0UL,
            _ => throw new InvalidOperationException(type.ToString()),
        };

        private static float F(ulong v) => BitConverter.Int32BitsToSingle((int)(uint)v);
        private static ulong Bits(float f) => (uint)BitConverter.SingleToInt32Bits(f);
        private static double D(ulong v) => BitConverter.Int64BitsToDouble((long)v);
        private static ulong Bits(double d) => (ulong)BitConverter.DoubleToInt64Bits(d);

        private void Arithmetic(int t, long rb, PtxInstruction i)
        {
            var o = i.Operands;
            ulong a = Get(t, rb, o[1]);
            ulong b = o.Length > 2 ? Get(t, rb, o[2]) : 0;
            ulong result;
            switch (i.Type)
            {
                case PtxType.F32:
                {
                    float x = F(a), y = F(b);
                    result = Bits(i.Op switch
                    {
                        PtxOp.Add => x + y,
                        PtxOp.Sub => x - y,
                        PtxOp.Mul => x * y,
                        PtxOp.Fma => MathF.FusedMultiplyAdd(x, y, F(Get(t, rb, o[3]))),
                        PtxOp.Div => x / y,
                        PtxOp.Min => float.IsNaN(x) ? y : float.IsNaN(y) ? x : x < y || (x == y && float.IsNegative(x)) ? x : y,
                        PtxOp.Max => float.IsNaN(x) ? y : float.IsNaN(y) ? x : x > y || (x == y && !float.IsNegative(x)) ? x : y,
                        PtxOp.Neg => -x,
                        PtxOp.Abs => MathF.Abs(x),
                        PtxOp.Rcp => 1f / x,
                        PtxOp.Sqrt => MathF.Sqrt(x),
                        _ => throw Fault(t, i, "not an f32 operation"),
                    });
                    break;
                }
                case PtxType.F64:
                {
                    double x = D(a), y = D(b);
                    result = Bits(i.Op switch
                    {
                        PtxOp.Add => x + y, PtxOp.Sub => x - y, PtxOp.Mul => x * y, PtxOp.Div => x / y,
                        PtxOp.Fma => Math.FusedMultiplyAdd(x, y, D(Get(t, rb, o[3]))),
                        PtxOp.Neg => -x, PtxOp.Abs => Math.Abs(x), PtxOp.Sqrt => Math.Sqrt(x), PtxOp.Rcp => 1 / x,
                        _ => throw Fault(t, i, "not an f64 operation"),
                    });
                    break;
                }
                case PtxType.Pred:
                    result = i.Op switch
                    {
                        PtxOp.And => a & b, PtxOp.Or => a | b, PtxOp.Xor => a ^ b, PtxOp.Not => a ^ 1,
                        _ => throw Fault(t, i, "not a predicate operation"),
                    };
                    break;
                case PtxType.S32 or PtxType.U32 or PtxType.B32:
                    result = Integer32(t, i, a, b, rb);
                    break;
                case PtxType.S64 or PtxType.U64 or PtxType.B64:
                    result = Integer64(t, i, a, b, rb);
                    break;
                default: throw Fault(t, i, $"type .{i.Type} in arithmetic");
            }
            Set(rb, o[0], i.Op == PtxOp.MulWide ? Widen(i.Type) : i.Type, result);
        }

        private static PtxType Widen(PtxType t) => t == PtxType.S32 ? PtxType.S64 : PtxType.U64;

        private ulong Integer32(int t, PtxInstruction i, ulong a, ulong b, long rb)
        {
            bool signed = i.Type == PtxType.S32;
            int sa = (int)(uint)a, sb = (int)(uint)b;
            uint ua = (uint)a, ub = (uint)b;
            int shift = (int)Math.Min(ub, 32u);
            return i.Op switch
            {
                PtxOp.Add => ua + ub,
                PtxOp.Sub => ua - ub,
                PtxOp.MulLo => ua * ub,
                PtxOp.MulWide => signed ? (ulong)((long)sa * sb) : (ulong)ua * ub,
                PtxOp.MulHi => signed ? (ulong)(uint)(((long)sa * sb) >> 32) : (ulong)(uint)(((ulong)ua * ub) >> 32),
                PtxOp.MadLo => ua * ub + (uint)Get(t, rb, i.Operands[3]),
                PtxOp.Div => signed ? (uint)(sa / sb) : ua / ub,
                PtxOp.Rem => signed ? (uint)(sa % sb) : ua % ub,
                PtxOp.Min => signed ? (uint)Math.Min(sa, sb) : Math.Min(ua, ub),
                PtxOp.Max => signed ? (uint)Math.Max(sa, sb) : Math.Max(ua, ub),
                PtxOp.Neg => (uint)-sa,
                PtxOp.Abs => (uint)Math.Abs(sa),
                PtxOp.Not => ~ua,
                PtxOp.And => ua & ub,
                PtxOp.Or => ua | ub,
                PtxOp.Xor => ua ^ ub,
                PtxOp.Shl => shift >= 32 ? 0u : ua << shift,
                PtxOp.Shr => signed ? (uint)(shift >= 32 ? sa >> 31 : sa >> shift) : shift >= 32 ? 0u : ua >> shift,
                _ => throw Fault(t, i, "not a 32-bit integer operation"),
            };
        }

        private ulong Integer64(int t, PtxInstruction i, ulong a, ulong b, long rb)
        {
            bool signed = i.Type == PtxType.S64;
            long sa = (long)a, sb = (long)b;
            int shift = (int)Math.Min((uint)b, 64u);
            return i.Op switch
            {
                PtxOp.Add => a + b,
                PtxOp.Sub => a - b,
                PtxOp.MulLo => a * b,
                PtxOp.MadLo => a * b + Get(t, rb, i.Operands[3]),
                PtxOp.Div => signed ? (ulong)(sa / sb) : a / b,
                PtxOp.Rem => signed ? (ulong)(sa % sb) : a % b,
                PtxOp.Min => signed ? (ulong)Math.Min(sa, sb) : Math.Min(a, b),
                PtxOp.Max => signed ? (ulong)Math.Max(sa, sb) : Math.Max(a, b),
                PtxOp.Neg => (ulong)-sa,
                PtxOp.Not => ~a,
                PtxOp.And => a & b,
                PtxOp.Or => a | b,
                PtxOp.Xor => a ^ b,
                PtxOp.Shl => shift >= 64 ? 0 : a << shift,
                PtxOp.Shr => signed ? (ulong)(shift >= 64 ? sa >> 63 : sa >> shift) : shift >= 64 ? 0 : a >> shift,
                _ => throw Fault(t, i, "not a 64-bit integer operation"),
            };
        }

        private static bool Compare(PtxInstruction i, ulong a, ulong b)
        {
            switch (i.Type)
            {
                case PtxType.F32:
                case PtxType.F64:
                {
                    double x = i.Type == PtxType.F32 ? F(a) : D(a), y = i.Type == PtxType.F32 ? F(b) : D(b);
                    bool nan = double.IsNaN(x) || double.IsNaN(y);
                    return i.Compare switch
                    {
                        PtxCompare.Eq => !nan && x == y, PtxCompare.Ne => !nan && x != y,
                        PtxCompare.Lt => !nan && x < y, PtxCompare.Le => !nan && x <= y,
                        PtxCompare.Gt => !nan && x > y, PtxCompare.Ge => !nan && x >= y,
                        PtxCompare.Equ => nan || x == y, PtxCompare.Neu => nan || x != y,
                        PtxCompare.Ltu => nan || x < y, PtxCompare.Leu => nan || x <= y,
                        PtxCompare.Gtu => nan || x > y, PtxCompare.Geu => nan || x >= y,
                        PtxCompare.Num => !nan, PtxCompare.Nan => nan,
                        _ => throw new FormatException($"{i}: comparison .{i.Compare} on floats"),
                    };
                }
                case PtxType.S32 or PtxType.S64:
                {
                    long x = i.Type == PtxType.S32 ? (int)(uint)a : (long)a, y = i.Type == PtxType.S32 ? (int)(uint)b : (long)b;
                    return i.Compare switch
                    {
                        PtxCompare.Eq => x == y, PtxCompare.Ne => x != y, PtxCompare.Lt => x < y, PtxCompare.Le => x <= y,
                        PtxCompare.Gt => x > y, PtxCompare.Ge => x >= y,
                        _ => throw new FormatException($"{i}: comparison .{i.Compare} on signed integers"),
                    };
                }
                default:
                {
                    ulong x = i.Type is PtxType.U64 or PtxType.B64 ? a : (uint)a, y = i.Type is PtxType.U64 or PtxType.B64 ? b : (uint)b;
                    return i.Compare switch
                    {
                        PtxCompare.Eq => x == y, PtxCompare.Ne => x != y,
                        PtxCompare.Lo or PtxCompare.Lt => x < y, PtxCompare.Ls or PtxCompare.Le => x <= y,
                        PtxCompare.Hi or PtxCompare.Gt => x > y, PtxCompare.Hs or PtxCompare.Ge => x >= y,
                        _ => throw new FormatException($"{i}: comparison .{i.Compare} on unsigned integers"),
                    };
                }
            }
        }

        /// <summary>
        /// An FP32 (its bits) rounded to BF16, its 16 bits (cvt.rn: to nearest, ties to even): the FP32 value as a double,
        /// BF16's ulp at its binade, the quotient rounded with Math.Round's ties to even — not the library's bit trick.
        /// Infinities stay; a NaN becomes the canonical 0x7FFF. Past BF16's largest finite value, infinity.
        /// </summary>
        private static ulong RoundBf16(ulong a)
        {
            float f = F(a);
            if (float.IsNaN(f)) return 0x7FFF;
            if (float.IsInfinity(f) || f == 0) return (uint)BitConverter.SingleToInt32Bits(f) >> 16;
            double m = Math.Abs((double)f);
            int e = Math.Max(Math.ILogB(m), -126);
            double ulp = Math.ScaleB(1.0, e - 7), r = Math.Round(m / ulp, MidpointRounding.ToEven) * ulp;
            float rounded = (float)(Math.Sign(f) * r); // exact (8 significant bits), or infinity past FP32's range
            return (uint)BitConverter.SingleToInt32Bits(rounded) >> 16;
        }

        private static ulong Convert(PtxInstruction i, ulong a)
        {
            switch (i.Type, i.SourceType)
            {
                case (PtxType.Tf32, PtxType.F32) when i.RoundToNearestAway:
                {
                    // Round to nearest, ties away from zero, to 10 mantissa bits; the 13 bits below are zero. NaN and
                    // infinity pass unchanged; a carry into the exponent rounds up to the next binade (or to infinity).
                    uint bits = (uint)a;
                    if ((bits & 0x7F800000u) == 0x7F800000u) return bits;
                    return (bits + 0x1000u) & 0xFFFFE000u;
                }
                case (PtxType.Tf32, PtxType.F32): // .rn (sm_90): to nearest, ties to even, in double (not the library's bit trick)
                {
                    float f = F(a);
                    if (float.IsNaN(f) || float.IsInfinity(f) || f == 0) return (uint)a;
                    double m = Math.Abs((double)f);
                    int e = Math.Max(Math.ILogB(m), -126);
                    double ulp = Math.ScaleB(1.0, e - 10), r = Math.Round(m / ulp, MidpointRounding.ToEven) * ulp;
                    return (uint)BitConverter.SingleToInt32Bits((float)(Math.Sign(f) * r)); // exact (11 significant bits), or infinity
                }
                case (PtxType.U32 or PtxType.U64, PtxType.U16 or PtxType.U8): return a;
                case (PtxType.U16, PtxType.U32): return a & 0xFFFF;
                case (PtxType.S64, PtxType.S32): return (ulong)(long)(int)(uint)a;
                case (PtxType.U64, PtxType.S32): return (ulong)(long)(int)(uint)a;
                case (PtxType.S64 or PtxType.U64, PtxType.U32): return (uint)a;
                case (PtxType.S32 or PtxType.U32, PtxType.S64 or PtxType.U64): return (uint)a;
                case (PtxType.F32, PtxType.S32): return Bits((float)(int)(uint)a);
                case (PtxType.F32, PtxType.U32): return Bits((float)(uint)a);
                case (PtxType.F64, PtxType.F32): return Bits((double)F(a));
                case (PtxType.F32, PtxType.F64): return Bits((float)D(a));
                default: throw new FormatException($"{i}: cvt.{i.Type}.{i.SourceType} is not modelled");
            }
        }

        // ---- memory ----

        private long Address(int t, long rb, in PtxOperand o) =>
            o.Kind == PtxOperandKind.Address
                ? (o.Register >= 0 ? (long)s.Registers[rb + o.Register] : 0) + o.Immediate
                : throw new InvalidOperationException("not an address operand");

        private void Load(int t, long rb, PtxInstruction i)
        {
            var o = i.Operands;
            int size = i.ElementBytes;
            long address = Address(t, rb, o[1]);
            int count = i.VectorWidth;
            Check(t, i, address, size * count);
            for (int k = 0; k < count; k++)
            {
                ulong value = Read(t, i, i.Space, address + k * size, size);
                if (i.Type is PtxType.S8 or PtxType.S16) value = (ulong)(size == 1 ? (sbyte)value : (short)value);
                var d = count == 1 ? o[0] : new PtxOperand(PtxOperandKind.Register, o[0].Vector![k]);
                s.Registers[rb + d.Register] = value;
            }
        }

        private void Store(int t, long rb, PtxInstruction i)
        {
            var o = i.Operands;
            int size = i.ElementBytes;
            long address = Address(t, rb, o[0]);
            int count = i.VectorWidth;
            Check(t, i, address, size * count);
            for (int k = 0; k < count; k++)
            {
                ulong value = count == 1 ? Get(t, rb, o[1]) : s.Registers[rb + o[1].Vector![k]];
                Write(t, i, i.Space, address + k * size, size, value);
            }
        }

        private void Check(int t, PtxInstruction i, long address, int bytes)
        {
            if (address % bytes != 0) throw Fault(t, i, $"address {address:X} is not aligned to {bytes} bytes");
            long limit = i.Space switch
            {
                PtxSpace.Shared => s.Shared.Length,
                PtxSpace.Local => program.LocalBytes,
                PtxSpace.Param => parameters.Length,
                _ => long.MaxValue,
            };
            if (i.Space == PtxSpace.Global)
            {
                if (!machine.global.Contains(address, bytes)) throw Fault(t, i, machine.global.Outside(address, bytes));
                return;
            }
            if (address < 0 || address + bytes > limit)
                throw Fault(t, i, $"{i.Space} access [{address}, {address + bytes}) outside its {limit} bytes");
        }

        private ulong Read(int t, PtxInstruction i, PtxSpace space, long address, int size)
        {
            switch (space)
            {
                case PtxSpace.Global:
                    if (machine.global.Reading(address, size, linearBlock, t, blockEpoch) is { } readRace) throw Fault(t, i, readRace);
                    return PtxGlobalMemory.Read(address, size);
                case PtxSpace.Param: return ReadBytes(parameters, address, size);
                case PtxSpace.Local: return ReadBytes(s.Local, (long)t * program.LocalBytes + address, size);
                default:
                    SharedRead(t, i, address, size);
                    return ReadBytes(s.Shared, address, size);
            }
        }

        private void Write(int t, PtxInstruction i, PtxSpace space, long address, int size, ulong value)
        {
            switch (space)
            {
                case PtxSpace.Global:
                    if (machine.global.Writing(address, size, linearBlock, t, blockEpoch) is { } writeRace) throw Fault(t, i, writeRace);
                    PtxGlobalMemory.Write(address, size, value);
                    return;
                case PtxSpace.Local: WriteBytes(s.Local, (long)t * program.LocalBytes + address, size, value); return;
                case PtxSpace.Shared:
                    SharedWrite(t, i, address, size, record: true);
                    WriteBytes(s.Shared, address, size, value);
                    return;
                default: throw Fault(t, i, $"store to .{space}");
            }
        }

        private static ulong ReadBytes(byte[] bytes, long at, int size) => size switch
        {
            1 => bytes[at],
            2 => BitConverter.ToUInt16(bytes, (int)at),
            4 => BitConverter.ToUInt32(bytes, (int)at),
            _ => BitConverter.ToUInt64(bytes, (int)at),
        };

        private static void WriteBytes(byte[] bytes, long at, int size, ulong value)
        {
            for (int k = 0; k < size; k++) bytes[at + k] = (byte)(value >> (8 * k));
        }

        // Race check per 4-byte word: a read must not see another thread's write from the same barrier interval, and a
        // write must not land on a word another thread read in it (bar.warp.sync orders lanes of one warp; bar.sync all).
        private bool Ordered(int a, int b, int blockStamp, int warpStamp) =>
            a / WarpSize == b / WarpSize ? warpStamp != warpEpoch[b / WarpSize] : blockStamp != blockEpoch;

        private void SharedRead(int t, PtxInstruction i, long address, int size)
        {
            for (long w = address / 4; w <= (address + size - 1) / 4; w++)
            {
                ref var word = ref s.Words[w];
                if (word.Writer >= 0 && word.Writer != t && !Ordered(word.Writer, t, word.WriteBlockEpoch, word.WriteWarpEpoch))
                    throw Fault(t, i, $"shared race: reads byte {w * 4}, written by thread {word.Writer} with no barrier between");
                int warp = t / WarpSize;
                bool current = word.Reader != -1 && word.ReadBlockEpoch == blockEpoch
                    && (word.Reader == ManyWarps || word.ReadWarpEpoch == warpEpoch[word.ReaderWarp]);
                if (!current || word.Reader == t)
                    word = word with { Reader = t, ReadBlockEpoch = blockEpoch, ReadWarpEpoch = warpEpoch[warp], ReaderWarp = warp };
                else if (word.Reader != ManyWarps)
                {
                    if (word.ReaderWarp == warp) word = word with { Reader = ManyInWarp, ReadWarpEpoch = warpEpoch[warp] };
                    else word = word with { Reader = ManyWarps };
                }
            }
        }

        private void SharedWrite(int t, PtxInstruction i, long address, int size, bool record)
        {
            for (long w = address / 4; w <= (address + size - 1) / 4; w++)
            {
                ref var word = ref s.Words[w];
                int warp = t / WarpSize;
                bool conflict = word.Reader switch
                {
                    -1 => false,
                    ManyWarps => word.ReadBlockEpoch == blockEpoch,
                    ManyInWarp => word.ReaderWarp == warp ? word.ReadWarpEpoch == warpEpoch[warp] : word.ReadBlockEpoch == blockEpoch,
                    var reader => reader != t && !Ordered(reader, t, word.ReadBlockEpoch, word.ReadWarpEpoch),
                };
                if (conflict) throw Fault(t, i, $"shared race: writes byte {w * 4}, which another thread read with no barrier between");
                if (word.Writer >= 0 && word.Writer != t && !Ordered(word.Writer, t, word.WriteBlockEpoch, word.WriteWarpEpoch))
                    throw Fault(t, i, $"shared race: writes byte {w * 4}, written by thread {word.Writer} with no barrier between");
                if (record) word = word with { Writer = t, WriteBlockEpoch = blockEpoch, WriteWarpEpoch = warpEpoch[warp] };
            }
        }

        // ---- cp.async ----

        private void IssueCopy(int t, long rb, PtxInstruction i)
        {
            var o = i.Operands;
            long dst = Address(t, rb, o[0]), src = Address(t, rb, o[1]);
            int bytes = (int)Get(t, rb, o[2]);
            int srcBytes = o.Length > 3 ? (int)Get(t, rb, o[3]) : bytes;
            if (bytes is not (4 or 8 or 16) || (i.CpAsyncGlobalBypass && bytes != 16)) throw Fault(t, i, $"cp-size {bytes}");
            if (srcBytes < 0 || srcBytes > bytes) throw Fault(t, i, $"src-size {srcBytes} of a {bytes}-byte copy");
            if (dst % bytes != 0 || src % bytes != 0) throw Fault(t, i, $"cp.async addresses {dst:X} ← {src:X} not aligned to {bytes}");
            if (dst < 0 || dst + bytes > s.Shared.Length) throw Fault(t, i, $"cp.async into shared [{dst}, {dst + bytes}) outside its {s.Shared.Length} bytes");
            if (srcBytes > 0 && !machine.global.Contains(src, srcBytes)) throw Fault(t, i, machine.global.Outside(src, srcBytes));
            if (srcBytes > 0 && machine.global.Reading(src, srcBytes, linearBlock, t, blockEpoch) is { } race) throw Fault(t, i, race); // read at issue
            SharedWrite(t, i, dst, bytes, record: false); // the copy may land at once: no other thread may still read there
            open[t].Copies.Add((dst, src, bytes, srcBytes, i));
        }

        private void CompleteCopy(int t, (long Dst, long Src, int Bytes, int SrcBytes, PtxInstruction Issued) c)
        {
            SharedWrite(t, c.Issued, c.Dst, c.Bytes, record: true);
            for (int k = 0; k < c.Bytes; k++)
                s.Shared[c.Dst + k] = k < c.SrcBytes ? (byte)PtxGlobalMemory.Read(c.Src + k, 1) : (byte)0;
        }

        // ---- mma.sync ----

        // D = A·B + C for one warp. Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k8" / "…m16n8k16"), with
        // g = lane >> 2 and q = lane % 4:
        //   tf32 m16n8k8:  a0 (g, q)  a1 (g+8, q)  a2 (g, q+4)  a3 (g+8, q+4);  b0 (k=q, n=g)  b1 (k=q+4, n=g)
        //   bf16 m16n8k16: a0 (g, 2q..2q+1)  a1 (g+8, 2q..)  a2 (g, 2q+8..)  a3 (g+8, 2q+8..);  b0 (k=2q..2q+1, n=g)
        //                  b1 (k=2q+8..2q+9, n=g); the lower half of a register holds the smaller column (row) index
        //   f32 C, D:      c0 (g, 2q)  c1 (g, 2q+1)  c2 (g+8, 2q)  c3 (g+8, 2q+1)
        private void Mma(int first, PtxInstruction i)
        {
            int k = i.Bf16Mma ? 16 : 8;
            var a = new double[16, 16];
            var b = new double[16, 8];
            var c = new double[16, 8];
            var o = i.Operands;
            for (int lane = 0; lane < WarpSize; lane++)
            {
                long rb = (long)(first + lane) * regs;
                int g = lane >> 2, q = lane & 3;
                uint A(int n) => (uint)s.Registers[rb + o[1].Vector![n]];
                uint B(int n) => (uint)s.Registers[rb + o[2].Vector![n]];
                float C(int n) => F(s.Registers[rb + o[3].Vector![n]]);
                if (!i.Bf16Mma)
                {
                    a[g, q] = Tf32(A(0)); a[g + 8, q] = Tf32(A(1)); a[g, q + 4] = Tf32(A(2)); a[g + 8, q + 4] = Tf32(A(3));
                    b[q, g] = Tf32(B(0)); b[q + 4, g] = Tf32(B(1));
                }
                else
                {
                    (a[g, 2 * q], a[g, 2 * q + 1]) = Bf16Pair(A(0));
                    (a[g + 8, 2 * q], a[g + 8, 2 * q + 1]) = Bf16Pair(A(1));
                    (a[g, 2 * q + 8], a[g, 2 * q + 9]) = Bf16Pair(A(2));
                    (a[g + 8, 2 * q + 8], a[g + 8, 2 * q + 9]) = Bf16Pair(A(3));
                    (b[2 * q, g], b[2 * q + 1, g]) = Bf16Pair(B(0));
                    (b[2 * q + 8, g], b[2 * q + 9, g]) = Bf16Pair(B(1));
                }
                c[g, 2 * q] = C(0); c[g, 2 * q + 1] = C(1); c[g + 8, 2 * q] = C(2); c[g + 8, 2 * q + 1] = C(3);
            }
            for (int lane = 0; lane < WarpSize; lane++)
            {
                long rb = (long)(first + lane) * regs;
                int g = lane >> 2, q = lane & 3;
                var d = o[0].Vector!;
                (int Row, int Col)[] places = [(g, 2 * q), (g, 2 * q + 1), (g + 8, 2 * q), (g + 8, 2 * q + 1)];
                for (int n = 0; n < 4; n++)
                {
                    var (row, col) = places[n];
                    double sum = c[row, col];
                    for (int kk = 0; kk < k; kk++) sum += a[row, kk] * b[kk, col];
                    s.Registers[rb + d[n]] = Bits((float)sum);
                }
            }
            Interlocked.Add(ref machine.executed, WarpSize);
        }

        private static double Tf32(uint bits) => F(bits & 0xFFFFE000u);
        private static (double Low, double High) Bf16Pair(uint bits) => (F(bits << 16), F(bits & 0xFFFF0000u));
    }
}

/// <summary>A fault the PTX ISA leaves undefined or a GPU would report (out of bounds, misaligned, race, deadlock).</summary>
public sealed class PtxFault(string message) : Exception(message);

/// <summary>
/// The global memory a launch may touch: the buffers passed to it (native addresses of CPU-accelerator memory), each
/// access checked to lie inside one of them, and the order of the launch's accesses to each 4-byte word. Blocks of one
/// launch run in no defined order and may run at the same time, so a word one block writes must not be read or written
/// by another block; within a block, a word one thread writes must not be read or written by another thread unless a
/// bar.sync lies between (it orders the block's global accesses too). A thread may read and rewrite its own words (an
/// in-place update) unless another thread of its block read them with no barrier between.
/// </summary>
public sealed class PtxGlobalMemory
{
    private readonly List<(long Start, long End, string Name)> ranges = [];
    private WordSpan[] spans = [];

    public void Add(long start, long bytes, string name)
    {
        if (bytes > 0) ranges.Add((start, start + bytes, name));
    }

    public bool Contains(long address, int bytes)
    {
        foreach (var (start, end, _) in ranges)
            if (address >= start && address + bytes <= end) return true;
        return false;
    }

    /// <summary>What a fault says of an access outside every buffer.</summary>
    public string Outside(long address, int bytes) =>
        $"global access [{address:X}, +{bytes}) outside every buffer of the launch ({string.Join(", ", ranges.Select(r => $"{r.Name} [{r.Start:X}, {r.End:X})"))})";

    /// <summary>Forgets every access: each launch orders its own (a launch completes before the next one starts).</summary>
    public void BeginLaunch()
    {
        // Views of one buffer may overlap (an input and an output of one allocation): words are tracked per span of
        // merged ranges, each word once.
        var merged = new List<(long Start, long End)>();
        foreach (var (start, end, _) in ranges.OrderBy(r => r.Start))
        {
            long s = start & ~3L, e = (end + 3) & ~3L;
            if (merged.Count > 0 && s <= merged[^1].End) merged[^1] = (merged[^1].Start, Math.Max(merged[^1].End, e));
            else merged.Add((s, e));
        }
        spans = merged.Select(m => new WordSpan(m.Start, m.End)).ToArray();
    }

    /// <summary>Per word: the writing thread (block·2048 + thread + 1; 0: none), the barrier interval it wrote in, and
    /// the reading block (block + 1; 0: none; -1: several) and, while one block reads it, the reading thread
    /// (<see cref="ManyThreads"/>: several) and its barrier interval.</summary>
    private sealed class WordSpan(long start, long end)
    {
        public readonly long Start = start, End = end;
        public readonly long[] Writer = new long[(end - start) / 4];
        public readonly int[] WriterEpoch = new int[(end - start) / 4];
        public readonly int[] Reader = new int[(end - start) / 4];
        public readonly int[] ReaderThread = new int[(end - start) / 4], ReaderEpoch = new int[(end - start) / 4];
    }

    private const int ThreadBits = 11; // 1024 threads per block at most
    private const int ManyThreads = -2;

    /// <summary>Records a read of [address, address + bytes) by <paramref name="thread"/> of <paramref name="block"/> in
    /// its barrier interval <paramref name="epoch"/>; returns what is wrong with it, or null.</summary>
    public string? Reading(long address, int bytes, int block, int thread, int epoch)
    {
        for (long w = address >> 2; w <= (address + bytes - 1) >> 2; w++)
        {
            var (span, i) = Word(w);
            ref int reader = ref span.Reader[i];
            int seen = Volatile.Read(ref reader);
            if (seen == 0) seen = Interlocked.CompareExchange(ref reader, block + 1, 0);
            if (seen != 0 && seen != block + 1 && seen != -1) Interlocked.Exchange(ref reader, -1);
            if (seen == 0 || seen == block + 1)
            {
                // Read by this block alone: only its worker touches the thread record.
                if (seen == 0 || span.ReaderEpoch[i] != epoch) (span.ReaderThread[i], span.ReaderEpoch[i]) = (thread, epoch);
                else if (span.ReaderThread[i] != thread) span.ReaderThread[i] = ManyThreads;
            }
            // The read is published (with a full fence) before the writer is looked at; Writing does the converse.
            long writer = Volatile.Read(ref span.Writer[i]);
            if (writer == 0) continue;
            var (wb, wt) = WriterOf(writer);
            if (wb != block) return $"global race: reads byte {w * 4:X}, which block {wb} writes (blocks run in no defined order)";
            if (wt != thread && span.WriterEpoch[i] == epoch)
                return $"global race: reads byte {w * 4:X}, which thread {wt} wrote with no barrier between";
        }
        return null;
    }

    /// <summary>Records a write, as <see cref="Reading"/> a read.</summary>
    public string? Writing(long address, int bytes, int block, int thread, int epoch)
    {
        long me = ((long)block << ThreadBits | (long)thread) + 1;
        for (long w = address >> 2; w <= (address + bytes - 1) >> 2; w++)
        {
            var (span, i) = Word(w);
            long writer = Interlocked.CompareExchange(ref span.Writer[i], me, 0);
            if (writer != 0 && writer != me)
            {
                var (wb, wt) = WriterOf(writer);
                if (wb != block) return $"global race: writes byte {w * 4:X}, which block {wb} writes too";
                if (wt != thread && span.WriterEpoch[i] == epoch)
                    return $"global race: writes byte {w * 4:X}, which thread {wt} wrote with no barrier between";
                Volatile.Write(ref span.Writer[i], me);
            }
            span.WriterEpoch[i] = epoch;
            int reader = Volatile.Read(ref span.Reader[i]);
            if (reader != 0 && reader != block + 1)
                return $"global race: writes byte {w * 4:X}, which {(reader < 0 ? "several blocks" : $"block {reader - 1}")} read (blocks run in no defined order)";
            if (reader == block + 1 && span.ReaderEpoch[i] == epoch && span.ReaderThread[i] != thread)
                return $"global race: writes byte {w * 4:X}, which {(span.ReaderThread[i] < 0 ? "several threads" : $"thread {span.ReaderThread[i]}")} read with no barrier between";
        }
        return null;
    }

    /// <summary>The block and thread a <see cref="WordSpan.Writer"/> record names.</summary>
    private static (long Block, int Thread) WriterOf(long writer) => ((writer - 1) >> ThreadBits, (int)((writer - 1) & ((1 << ThreadBits) - 1)));

    private (WordSpan Span, int Index) Word(long word)
    {
        long address = word << 2;
        foreach (var span in spans)
            if (address >= span.Start && address < span.End) return (span, (int)((address - span.Start) >> 2));
        throw new InvalidOperationException($"global word {address:X} outside the launch's buffers (checked before)");
    }

    public static ulong Read(long address, int size) => size switch
    {
        1 => Marshal.ReadByte((nint)address),
        2 => (ushort)Marshal.ReadInt16((nint)address),
        4 => (uint)Marshal.ReadInt32((nint)address),
        _ => (ulong)Marshal.ReadInt64((nint)address),
    };

    public static void Write(long address, int size, ulong value)
    {
        switch (size)
        {
            case 1: Marshal.WriteByte((nint)address, (byte)value); break;
            case 2: Marshal.WriteInt16((nint)address, (short)value); break;
            case 4: Marshal.WriteInt32((nint)address, (int)value); break;
            default: Marshal.WriteInt64((nint)address, (long)value); break;
        }
    }
}
