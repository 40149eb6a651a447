using System.Runtime.InteropServices;
using Xunit;
using IlgpuStyle.Tests.Reference;

namespace IlgpuStyle.Tests.Ptx;

/// <summary>
/// The PTX interpreter (<see cref="PtxMachine"/>) on hand-written PTX, without ILGPU: the tensor-core products against a
/// plain matrix product (fragments loaded at the PTX ISA's positions), cp.async's copies landing at their wait (and
/// zero-filling past src-size), and each fault it must report — a shared-memory race, a global-memory race, an access
/// outside a buffer, a misaligned vector access, an mma.sync some lanes never reach, an unknown instruction.
/// </summary>
public class PtxInterpreterTests
{
    /// <summary>
    /// Host arrays copied into 256-byte-aligned native memory (as a GPU allocation is aligned) for the launch's global
    /// memory, and back after it; the parameter block holds their addresses, each 8 bytes.
    /// </summary>
    private sealed class Launch : IDisposable
    {
        private readonly List<(Array Data, nint Block, nint Address, int Bytes)> buffers = [];
        public readonly PtxGlobalMemory Global = new();
        private readonly List<byte> parameters = [];

        public Launch Buffer<T>(T[] data) where T : unmanaged
        {
            var content = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
            int bytes = content.Length;
            nint block = Marshal.AllocHGlobal(bytes + 256);
            nint address = (block + 255) & ~(nint)255;
            Marshal.Copy(content, 0, address, bytes);
            buffers.Add((data, block, address, bytes));
            Global.Add(address, bytes, $"buffer {buffers.Count}");
            parameters.AddRange(BitConverter.GetBytes((long)address));
            return this;
        }

        public void Run(string ptx, int threads, int blocks = 1, int dynamicSharedBytes = 0)
        {
            var program = PtxProgram.Parse(ptx);
            try
            {
                new PtxMachine(program, Global).Launch((blocks, 1, 1), (threads, 1, 1), [.. parameters, .. new byte[8]], dynamicSharedBytes);
            }
            finally
            {
                foreach (var (data, _, address, bytes) in buffers)
                {
                    var content = new byte[bytes];
                    Marshal.Copy(address, content, 0, bytes);
                    content.CopyTo(Span(data));
                }
            }
        }

        private static Span<byte> Span(Array data) => data switch
        {
            float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
            ushort[] u => MemoryMarshal.AsBytes(u.AsSpan()),
            uint[] w => MemoryMarshal.AsBytes(w.AsSpan()),
            _ => throw new NotSupportedException(data.GetType().Name),
        };

        public void Dispose()
        {
            foreach (var (_, block, _, _) in buffers) Marshal.FreeHGlobal(block);
        }
    }

    private static string Kernel(string parameters, string registers, string body, string shared = "") => $$"""
        .version 8.4
        .target sm_80
        .address_size 64
        .visible .entry Test(
        {{parameters}}
        )
        {
        {{shared}}
        {{registers}}
        {{body}}
        	ret;
        }
        """;

    // Loads lane's fragments of row-major A (16 × K), B (K × 8, stored [k][n]) and C (16 × 8) from global memory at the
    // positions the PTX ISA's fragment tables give (g = lane / 4, q = lane % 4), runs one mma.sync and stores D as C.
    private static string MmaKernel(bool bf16)
    {
        int k = bf16 ? 16 : 8;
        // tf32: a_i at (row g + 8·(i & 1), col q + 4·(i >> 1)); b_i at (k q + 4·i, n g). bf16: a_i holds columns
        // 2q + 8·(i >> 1) and +1 of row g + 8·(i & 1) (low half the smaller); b_i rows 2q + 8·i and +1 of column g.
        var loads = new System.Text.StringBuilder();
        for (int i = 0; i < 4; i++)
        {
            if (!bf16)
                loads.Append($"mad.lo.s32 %t, %g, 1, {8 * (i & 1)}; mul.lo.s32 %t, %t, {k}; add.s32 %t, %t, %q; add.s32 %t, %t, {4 * (i >> 1)};\n"
                    + $"mul.wide.u32 %o, %t, 4; add.u64 %o, %pa, %o; ld.global.b32 %a{i}, [%o];\n");
            else
                loads.Append($"mad.lo.s32 %t, %g, 1, {8 * (i & 1)}; mul.lo.s32 %t, %t, {k}; shl.b32 %u, %q, 1; add.s32 %t, %t, %u; add.s32 %t, %t, {8 * (i >> 1)};\n"
                    + $"mul.wide.u32 %o, %t, 2; add.u64 %o, %pa, %o; ld.global.u16 %h0, [%o]; ld.global.u16 %h1, [%o+2];\n"
                    + $"cvt.u32.u16 %u, %h0; cvt.u32.u16 %w, %h1; shl.b32 %w, %w, 16; or.b32 %a{i}, %u, %w;\n");
        }
        for (int i = 0; i < 2; i++)
        {
            if (!bf16)
                loads.Append($"add.s32 %t, %q, {4 * i}; mul.lo.s32 %t, %t, 8; add.s32 %t, %t, %g;\n"
                    + $"mul.wide.u32 %o, %t, 4; add.u64 %o, %pb, %o; ld.global.b32 %b{i}, [%o];\n");
            else
                loads.Append($"shl.b32 %t, %q, 1; add.s32 %t, %t, {8 * i}; mul.lo.s32 %t, %t, 8; add.s32 %t, %t, %g;\n"
                    + $"mul.wide.u32 %o, %t, 2; add.u64 %o, %pb, %o; ld.global.u16 %h0, [%o]; ld.global.u16 %h1, [%o+16];\n"
                    + $"cvt.u32.u16 %u, %h0; cvt.u32.u16 %w, %h1; shl.b32 %w, %w, 16; or.b32 %b{i}, %u, %w;\n");
        }
        // c_i at (row g + 8·(i >> 1), col 2q + (i & 1))
        var cAddress = new System.Text.StringBuilder();
        for (int i = 0; i < 4; i++)
            cAddress.Append($"add.s32 %t, %g, {8 * (i >> 1)}; mul.lo.s32 %t, %t, 8; shl.b32 %u, %q, 1; add.s32 %t, %t, %u; add.s32 %t, %t, {i & 1};\n"
                + $"mul.wide.u32 %o, %t, 4; add.u64 %c{i}, %pc, %o; ld.global.f32 %f{i}, [%c{i}];\n");
        string mma = bf16 ? "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32" : "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32";
        return Kernel(".param .b64 pa, .param .b64 pb, .param .b64 pc".Replace(", ", ",\n"),
            ".reg .b32 %lane, %g, %q, %t, %u, %w, %a<4>, %b<2>; .reg .b16 %h<2>; .reg .b64 %pa, %pb, %pc, %o, %c<4>; .reg .f32 %f<4>, %d<4>;".Replace("; ", ";\n"),
            $$"""
            ld.param.b64 %pa, [pa]; ld.param.b64 %pb, [pb]; ld.param.b64 %pc, [pc];
            mov.b32 %lane, %laneid; shr.u32 %g, %lane, 2; and.b32 %q, %lane, 3;
            {{loads}}{{cAddress}}{{mma}} {%d0, %d1, %d2, %d3}, {%a0, %a1, %a2, %a3}, {%b0, %b1}, {%f0, %f1, %f2, %f3};
            bar.warp.sync -1;
            st.global.f32 [%c0], %d0; st.global.f32 [%c1], %d1; st.global.f32 [%c2], %d2; st.global.f32 [%c3], %d3;
            """);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MmaComputesTheMatrixProductFromTheIsaFragments(bool bf16)
    {
        int k = bf16 ? 16 : 8;
        var random = new Random(5);
        // Values exact in the operand format (tf32: 10 mantissa bits; bf16: 7) and small integers over powers of two,
        // so the product and the sums are exact in f32 and the comparison can be equality.
        float Value() => random.Next(-64, 65) / 16f;
        var a = new float[16 * k];
        var b = new float[k * 8];
        var c = new float[16 * 8];
        for (int i = 0; i < a.Length; i++) a[i] = Value();
        for (int i = 0; i < b.Length; i++) b[i] = Value();
        for (int i = 0; i < c.Length; i++) c[i] = Value();
        var expected = new float[16 * 8];
        for (int m = 0; m < 16; m++)
        for (int n = 0; n < 8; n++)
        {
            double sum = c[m * 8 + n];
            for (int kk = 0; kk < k; kk++) sum += (double)a[m * k + kk] * b[kk * 8 + n];
            expected[m * 8 + n] = (float)sum;
        }
        var d = (float[])c.Clone();
        using var launch = new Launch();
        if (bf16) launch.Buffer(Bf16(a)).Buffer(Bf16(b)).Buffer(d);
        else launch.Buffer(a).Buffer(b).Buffer(d);
        launch.Run(MmaKernel(bf16), threads: 32);
        Assert.Equal(expected, d);
    }

    private static ushort[] Bf16(float[] values) =>
        values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();

    [Fact]
    public void Tf32ConversionRoundsToNearestTiesAwayAndClearsThe13LowBits()
    {
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: away from zero gives 1 + 2^-10; 1 + 2^-12 rounds down to 1.
        float[] input = [1f + MathF.Pow(2, -11), 1f + MathF.Pow(2, -12), -(1f + MathF.Pow(2, -11)), float.PositiveInfinity];
        float[] expected = [1f + MathF.Pow(2, -10), 1f, -(1f + MathF.Pow(2, -10)), float.PositiveInfinity];
        Assert.Equal(expected, Tf32Conversion(input, "rna"));
    }

    /// <summary>Each value through <c>cvt.<paramref name="rounding"/>.tf32.f32</c>, one thread each.</summary>
    private static float[] Tf32Conversion(float[] input, string rounding)
    {
        var output = new float[input.Length];
        using var launch = new Launch();
        launch.Buffer(input).Buffer(output).Run(Kernel(".param .b64 px,\n.param .b64 py", ".reg .b32 %i, %r;\n.reg .f32 %f;\n.reg .b64 %px, %py, %o;",
            $"""
            ld.param.b64 %px, [px]; ld.param.b64 %py, [py];
            mov.b32 %i, %tid.x; mul.wide.u32 %o, %i, 4; add.u64 %px, %px, %o; add.u64 %py, %py, %o;
            ld.global.f32 %f, [%px]; cvt.{rounding}.tf32.f32 %r, %f; st.global.b32 [%py], %r;
            """), threads: input.Length);
        return output;
    }

    /// <summary>
    /// cvt.rn.tf32.f32 (sm_90; Tf32.Round(x, nearestEven: 1) on CUDA there): to nearest with ties to even — 1 + 2^-11 is a
    /// tie between 1 and 1 + 2^-10 (even: 1), 1 + 3·2^-11 one between 1 + 2^-10 and 1 + 2^-9 (even: the latter), where
    /// cvt.rna takes both up; infinity stays, the largest FP32 rounds up to infinity, a subnormal keeps its 10 upper
    /// mantissa bits rounded. Expected from the tests' own rounding (in double), and equal to the library's emulated
    /// path (the CPU simulator's).
    /// </summary>
    [Fact]
    public void Tf32NearestEvenConversionRoundsTiesToEven()
    {
        float[] input = [1f + MathF.Pow(2, -11), 1f + 3 * MathF.Pow(2, -11), -(1f + MathF.Pow(2, -11)), float.PositiveInfinity,
            float.MaxValue, 3.3e-39f, -0.1f, 12345.678f];
        var output = Tf32Conversion(input, "rn");
        Assert.Equal(input.Select(TensorCoreFormat.Tf32NearestEven.Round).ToArray(), output);
        Assert.Equal(1f, output[0]);
        Assert.Equal(1f + MathF.Pow(2, -9), output[1]);
        Assert.Equal(float.PositiveInfinity, output[4]);
        Assert.Equal(input.Select(IlgpuStyle.Kernels.TensorCores.Tf32.RoundNearestEvenEmulated).ToArray(), output);
    }

    /// <summary>
    /// cvt.rn.bf16x2.f32 d, a, b (Bf16.RoundPack on CUDA): a rounded to BF16 in d's upper half, b in its lower, to nearest
    /// with ties to even — 1 + 2^-8 is a tie between 1 and 1 + 2^-7 (even: 1), 1 + 3·2^-8 one between 1 + 2^-7 and
    /// 1 + 2^-6 (even: the latter); infinity stays, the largest FP32 rounds up to infinity, a subnormal keeps its
    /// 7 upper mantissa bits rounded. Each thread packs input[2t + 1] above input[2t]; expected from the tests' own BF16
    /// rounding (TensorCoreFormat.Bf16, in double).
    /// </summary>
    [Fact]
    public void Bf16x2ConversionRoundsToNearestEvenAndPacksTheFirstOperandHigh()
    {
        float[] input = [1f + MathF.Pow(2, -8), 1f + 3 * MathF.Pow(2, -8), -(1f + MathF.Pow(2, -8)), float.PositiveInfinity,
            float.MaxValue, 3.3e-39f, -0.1f, 12345.678f];
        var output = new uint[input.Length / 2];
        using var launch = new Launch();
        launch.Buffer(input).Buffer(output).Run(Kernel(".param .b64 px,\n.param .b64 py", ".reg .b32 %i, %r;\n.reg .f32 %lo, %hi;\n.reg .b64 %px, %py, %o;",
            """
            ld.param.b64 %px, [px]; ld.param.b64 %py, [py];
            mov.b32 %i, %tid.x; mul.wide.u32 %o, %i, 8; add.u64 %px, %px, %o; mul.wide.u32 %o, %i, 4; add.u64 %py, %py, %o;
            ld.global.f32 %lo, [%px]; ld.global.f32 %hi, [%px+4]; cvt.rn.bf16x2.f32 %r, %hi, %lo; st.global.b32 [%py], %r;
            """), threads: output.Length);
        uint Upper(float v) => BitConverter.SingleToUInt32Bits(TensorCoreFormat.Bf16.Round(v)) >> 16;
        var expected = Enumerable.Range(0, output.Length).Select(t => (Upper(input[2 * t + 1]) << 16) | Upper(input[2 * t])).ToArray();
        Assert.Equal(expected, output);
        Assert.Equal(0x3F80u, output[0] & 0xFFFF);       // 1 + 2^-8 → 1 (even)
        Assert.Equal(0x3F82u, output[0] >> 16);          // 1 + 3·2^-8 → 1 + 2^-6 (even)
        Assert.Equal(0x7F80u, output[2] & 0xFFFF);       // FP32's largest → infinity
        // Each packed value is also what the library's own emulated path (the CPU simulator's) gives.
        for (int t = 0; t < output.Length; t++)
            Assert.Equal(IlgpuStyle.Kernels.TensorCores.Bf16.RoundPack(input[2 * t], input[2 * t + 1]), output[t]);
    }

    // Thread 0 copies 16 bytes (cp.async.cg) and 4 bytes with src-size 0 into shared memory, then every thread reads both
    // words before and after the wait: before, the copies have not landed (the interpreter's 0xFF fill, a NaN); after, they
    // have, the zero-filled one as 0.
    [Fact]
    public void CpAsyncLandsAtItsWaitAndZeroFillsPastSrcSize()
    {
        var source = new float[] { 1, 2, 3, 4, 5 };
        var output = new float[4];
        using var launch = new Launch();
        launch.Buffer(source).Buffer(output).Run(Kernel(".param .b64 px,\n.param .b64 py",
            ".reg .b32 %s, %z;\n.reg .f32 %f<4>;\n.reg .b64 %px, %py, %q;\n.reg .pred %p;",
            """
            ld.param.b64 %px, [px]; ld.param.b64 %py, [py];
            mov.u32 %s, stage;
            cp.async.cg.shared.global [%s], [%px], 16;
            add.u64 %q, %px, 16; mov.b32 %z, 0;
            cp.async.ca.shared.global [%s+16], [%q], 4, %z;
            cp.async.commit_group;
            ld.shared.f32 %f0, [%s];
            ld.shared.f32 %f1, [%s+16];
            cp.async.wait_group 0;
            ld.shared.f32 %f2, [%s+4];
            ld.shared.f32 %f3, [%s+16];
            st.global.f32 [%py], %f0; st.global.f32 [%py+4], %f1; st.global.f32 [%py+8], %f2; st.global.f32 [%py+12], %f3;
            """, shared: ".shared .align 16 .b8 stage[32];"), threads: 1);
        Assert.True(float.IsNaN(output[0]) && float.IsNaN(output[1]), $"read before the wait: {output[0]}, {output[1]}");
        Assert.Equal(2f, output[2]);
        Assert.Equal(0f, output[3]);
    }

    // Thread `first` runs its code, then (after a bar.sync when `barrier`) thread `then` runs its own; %px is the buffer.
    private static string OneThenAnother(bool barrier, (int Thread, string Code) first, (int Thread, string Code) then, string shared = "") =>
        Kernel(".param .b64 px", ".reg .b32 %t, %s;\n.reg .f32 %f;\n.reg .b64 %px;\n.reg .pred %p;",
            $"""
            ld.param.b64 %px, [px];
            mov.b32 %t, %tid.x;
            setp.ne.s32 %p, %t, {first.Thread};
            @%p bra SKIP;
            {first.Code}
            SKIP:
            {(barrier ? "bar.sync 0;" : "")}
            setp.ne.s32 %p, %t, {then.Thread};
            @%p bra DONE;
            {then.Code}
            DONE:
            """, shared);

    // Thread 0 stores a word, thread 32 (another warp) loads it: a race unless a bar.sync separates them.
    private static string SharedHandOff(bool barrier) => OneThenAnother(barrier,
        (0, "mov.u32 %s, word; st.shared.f32 [%s], 0f40400000;"),
        (32, "mov.u32 %s, word; ld.shared.f32 %f, [%s]; st.global.f32 [%px], %f;"), shared: ".shared .align 4 .b8 word[4];");

    [Fact]
    public void ASharedWordHandedToAnotherWarpWithoutABarrierIsARace()
    {
        var output = new float[1];
        using var launch = new Launch();
        launch.Buffer(output);
        var fault = Assert.Throws<PtxFault>(() => launch.Run(SharedHandOff(barrier: false), threads: 64));
        Assert.Contains("shared race", fault.Message);
        launch.Run(SharedHandOff(barrier: true), threads: 64);
        Assert.Equal(3f, output[0]);
    }

    // Each thread adds 1 to the word at `index` (in place: its own read, then its own write).
    private static string IncrementWord(string index) => Kernel(".param .b64 px",
        ".reg .b32 %t, %c, %n, %i;\n.reg .b64 %px, %off, %pa;\n.reg .f32 %f;",
        $"""
        ld.param.b64 %px, [px];
        mov.u32 %t, %tid.x; mov.u32 %c, %ctaid.x; mov.u32 %n, %ntid.x;
        {index}
        mul.wide.u32 %off, %i, 4;
        add.s64 %pa, %px, %off;
        ld.global.f32 %f, [%pa];
        add.f32 %f, %f, 0f3F800000;
        st.global.f32 [%pa], %f;
        """);

    [Fact]
    public void AGlobalWordTouchedByTwoBlocksOrByTwoThreadsBetweenBarriersIsARace()
    {
        var data = new float[64];
        using var launch = new Launch();
        launch.Buffer(data);
        launch.Run(IncrementWord("mad.lo.u32 %i, %c, %n, %t;"), threads: 32, blocks: 2); // a word per thread: in place is fine
        Assert.All(data, v => Assert.Equal(1f, v));
        var blocks = Assert.Throws<PtxFault>(() => launch.Run(IncrementWord("mov.u32 %i, %t;"), threads: 32, blocks: 2));
        Assert.Contains("global race", blocks.Message);
        // The blocks run side by side, so either may be the one that meets the race, and it names the other — or, when
        // both read the word before either wrote it, "several blocks".
        var faulting = System.Text.RegularExpressions.Regex.Match(blocks.Message, @"block \((\d),0,0\)");
        Assert.True(faulting.Success, blocks.Message);
        string other = $"which block {1 - int.Parse(faulting.Groups[1].Value)} ";
        Assert.True(blocks.Message.Contains(other) || blocks.Message.Contains("which several blocks read"), blocks.Message);
        var threads = Assert.Throws<PtxFault>(() => launch.Run(IncrementWord("mov.u32 %i, 0;"), threads: 2));
        Assert.Contains("global race", threads.Message);
        Assert.Contains("no barrier", threads.Message);
    }

    // Thread 0 stores word 0 of the buffer, thread 1 copies it to word 1: a race unless a bar.sync separates them.
    private static string GlobalHandOff(bool barrier) => OneThenAnother(barrier,
        (0, "st.global.f32 [%px], 0f40400000;"), (1, "ld.global.f32 %f, [%px]; st.global.f32 [%px+4], %f;"));

    // Thread 0 copies word 0 of the buffer to word 1, then thread 1 overwrites word 0: a race unless a bar.sync separates
    // them (the interpreter runs thread 0 first, so the read comes first).
    private static string GlobalOverwrite(bool barrier) => OneThenAnother(barrier,
        (0, "ld.global.f32 %f, [%px]; st.global.f32 [%px+4], %f;"), (1, "st.global.f32 [%px], 0f40400000;"));

    [Fact]
    public void AGlobalWordHandedToAnotherThreadOfTheBlockNeedsABarrier()
    {
        var data = new float[2];
        using var launch = new Launch();
        launch.Buffer(data);
        Assert.Contains("global race", Assert.Throws<PtxFault>(() => launch.Run(GlobalHandOff(barrier: false), threads: 2)).Message);
        launch.Run(GlobalHandOff(barrier: true), threads: 2);
        Assert.Equal(3f, data[1]);

        var copied = new[] { 5f, 0f };
        using var second = new Launch();
        second.Buffer(copied);
        var overwrite = Assert.Throws<PtxFault>(() => second.Run(GlobalOverwrite(barrier: false), threads: 2));
        Assert.Contains("which thread 0 read with no barrier between", overwrite.Message);
        var ordered = new[] { 5f, 0f };
        using var third = new Launch();
        third.Buffer(ordered);
        third.Run(GlobalOverwrite(barrier: true), threads: 2);
        Assert.Equal([3f, 5f], ordered);
    }

    [Fact]
    public void AccessesOutsideTheBuffersOrMisalignedFault()
    {
        var data = new float[8];
        using var launch = new Launch();
        launch.Buffer(data);
        string Access(string what) => Kernel(".param .b64 px", ".reg .b64 %px;\n.reg .f32 %f<4>;", $"ld.param.b64 %px, [px];\n{what}");
        launch.Run(Access("ld.global.v4.f32 {%f0, %f1, %f2, %f3}, [%px+16];"), threads: 1);
        Assert.Contains("outside every buffer", Assert.Throws<PtxFault>(() => launch.Run(Access("ld.global.f32 %f0, [%px+32];"), threads: 1)).Message);
        Assert.Contains("not aligned", Assert.Throws<PtxFault>(() => launch.Run(Access("ld.global.v4.f32 {%f0, %f1, %f2, %f3}, [%px+4];"), threads: 1)).Message);
    }

    // ILGPU's dynamic shared memory: a module-level .extern array (the kernel's only shared array), sized by the launch.
    private static string DynamicShared(string body) =>
        Kernel(".param .b64 px", ".reg .b32 %s, %n;\n.reg .f32 %f;\n.reg .b64 %px;", $"ld.param.b64 %px, [px];\n{body}")
            .Replace(".address_size 64\n", ".address_size 64\n.extern .shared .align 16 .b8 dyn[];\n");

    [Fact]
    public void DynamicSharedMemoryHasTheLaunchsSize()
    {
        var output = new float[2];
        using var launch = new Launch();
        launch.Buffer(output);
        // The last word of 64 bytes written and read back; %dynamic_smem_size is the launch's size.
        launch.Run(DynamicShared("""
            mov.u32 %s, dyn; st.shared.f32 [%s+60], 0f40400000; ld.shared.f32 %f, [%s+60]; st.global.f32 [%px], %f;
            mov.b32 %n, %dynamic_smem_size; cvt.rn.f32.u32 %f, %n; st.global.f32 [%px+4], %f;
            """), threads: 1, dynamicSharedBytes: 64);
        Assert.Equal([3f, 64f], output);
        // Past it: outside the block's shared memory.
        var past = DynamicShared("mov.u32 %s, dyn; st.shared.f32 [%s+64], 0f40400000;");
        Assert.Contains("outside its 64 bytes", Assert.Throws<PtxFault>(() => launch.Run(past, threads: 1, dynamicSharedBytes: 64)).Message);
        // A static array beside it is not modelled (ILGPU declares one or the other in these kernels).
        Assert.Throws<FormatException>(() => PtxProgram.Parse(past.Replace("{\n", "{\n.shared .align 4 .b8 word[4];\n")));
    }

    [Fact]
    public void AnMmaSomeLanesNeverReachFaults()
    {
        var a = new float[128];
        using var launch = new Launch();
        launch.Buffer(a).Buffer(a).Buffer(new float[128]);
        // Lanes 16–31 leave before the product.
        var ptx = MmaKernel(bf16: false).Replace("mov.b32 %lane, %laneid;", "mov.b32 %lane, %laneid; setp.ge.u32 %pr, %lane, 16; @%pr ret;")
            .Replace(".reg .f32 %f<4>", ".reg .pred %pr;\n.reg .f32 %f<4>");
        Assert.Contains("mma.sync", Assert.Throws<PtxFault>(() => launch.Run(ptx, threads: 32)).Message);
    }

    [Fact]
    public void AnInstructionOutsideTheModelledSubsetIsAParseError()
    {
        var ptx = Kernel("", ".reg .b32 %r<2>;", "popc.b32 %r0, %r1;");
        Assert.Contains("popc", Assert.Throws<FormatException>(() => PtxProgram.Parse(ptx)).Message);
    }
}
