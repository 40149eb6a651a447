using System.Text.RegularExpressions;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// <see cref="PtxDepots.Rewrite"/>: ILGPU's inline-asm operand depots become registers — on hand-written PTX in ILGPU
/// 1.5.3's shape (exact text), on the PTX of a cp.async tensor-core kernel (no local memory left, every mma kept), and
/// refusals of what it does not understand. (ptxas on the rewritten kernels: PtxasTests.)
/// </summary>
public class PtxDepotsTests
{
    // Two depots as ILGPU writes them: declared, addressed once each, stored then loaded around an asm block.
    private const string TwoDepots =
        ".visible .entry Kernel(\n\t.param .u64 p\n)\n{\n" +
        "\t.local .align 4 .b8 __local_depot0[4];\n" +
        "\t.local .align 4 .b8 __local_depot1[4];\n" +
        "\t.reg .pred\t%p<2>;\n\t.reg .b32\t%r<4>;\n\t.reg .b64\t%rd<4>;\n\t.reg .f32\t%f<4>;\n" +
        "\tmov.b64\t%rd1, __local_depot0;\n" +
        "\tmov.b64\t%rd2, __local_depot1;\n" +
        "\tst.local.f32\t[%rd1], 0f00000000;\n" +
        "\tst.local.b32\t[%rd2], %r1;\n" +
        "\t{ cvt.rna.tf32.f32 %r2, %f1; }\n" +
        "\tld.local.f32\t%f2, [%rd1];\n" +
        "\tld.local.b32\t%r3, [%rd2];\n" +
        "\tret;\n}\n";

    [Fact]
    public void DepotsBecomeRegistersAndTheirLoadsAndStoresMoves()
    {
        var (ptx, depots) = PtxDepots.Rewrite(TwoDepots);
        Assert.Equal(2, depots);
        Assert.Equal(
            ".visible .entry Kernel(\n\t.param .u64 p\n)\n{\n" +
            "\t.reg .b32\t%dep<2>;\n" +
            "\t.reg .pred\t%p<2>;\n\t.reg .b32\t%r<4>;\n\t.reg .b64\t%rd<4>;\n\t.reg .f32\t%f<4>;\n" +
            "\tmov.b32\t%dep0, 0f00000000;\n" +
            "\tmov.b32\t%dep1, %r1;\n" +
            "\t{ cvt.rna.tf32.f32 %r2, %f1; }\n" +
            "\tmov.b32\t%f2, %dep0;\n" +
            "\tmov.b32\t%r3, %dep1;\n" +
            "\tret;\n}\n", ptx);
    }

    [Fact]
    public void PtxWithoutDepotsIsReturnedUnchanged()
    {
        var plain = TwoDepots.Replace("\t.local .align 4 .b8 __local_depot0[4];\n", "").Replace("\t.local .align 4 .b8 __local_depot1[4];\n", "");
        var (ptx, depots) = PtxDepots.Rewrite(plain);
        Assert.Equal(0, depots);
        Assert.Same(plain, ptx);
    }

    /// <summary>
    /// A cp.async kernel whose one shared array is dynamic (ILGPU's .extern __dyn_shared_alloca): the rewrite renames the
    /// symbol whose address the copies take (AsyncCopy.SharedArrayAddress reads __shared_alloca0 into a 32-bit register,
    /// as ILGPU writes it), not ILGPU's own 64-bit reads of its arrays, leaves a static kernel's alone, and refuses a kernel
    /// with both.
    /// </summary>
    [Fact]
    public void CopiesIntoDynamicSharedMemoryNameItsArray()
    {
        const string copy = "\tmov.u32 \t%r7, __shared_alloca0;\n\tcp.async.cg.shared.global [%r7], [%rd3], 16, 16;\n";
        const string own = "\tmov.b64\t%rd9, __dyn_shared_alloca;\n";
        string dynamic = ".extern .shared .align 16 .b8 __dyn_shared_alloca[];\n" + TwoDepots.Replace("\tret;\n", own + copy + "\tret;\n");
        var (ptx, depots) = PtxDepots.Rewrite(dynamic);
        Assert.Equal(2, depots);
        Assert.Contains("\tmov.u32 \t%r7, __dyn_shared_alloca;\n", ptx);
        Assert.Contains(own, ptx);
        Assert.DoesNotContain("__shared_alloca0", ptx);

        string staticArray = TwoDepots.Replace("{\n", "{\n\t.shared .align 16 .b8 __shared_alloca0[64];\n").Replace("\tret;\n", copy + "\tret;\n");
        Assert.Contains("\tmov.u32 \t%r7, __shared_alloca0;\n", PtxDepots.Rewrite(staticArray).Ptx);

        string both = ".extern .shared .align 16 .b8 __dyn_shared_alloca[];\n" + staticArray;
        Assert.Contains("both", Assert.Throws<InvalidOperationException>(() => PtxDepots.Rewrite(both)).Message);
    }

    [Theory]
    [InlineData("written twice", "\tret;\n", "\tadd.s64\t%rd1, %rd3, 4;\n\tret;\n", "written 2 times")]
    [InlineData("address used by arithmetic", "\tret;\n", "\tadd.s64\t%rd3, %rd1, 4;\n\tret;\n", "used other than by st.local / ld.local")]
    [InlineData("a 64-bit depot access", "\tld.local.b32\t%r3, [%rd2];\n", "\tld.local.b64\t%rd3, [%rd2];\n", "used other than by st.local / ld.local")]
    [InlineData("a depot without its address", "\tmov.b64\t%rd2, __local_depot1;\n", "", "2 depots declared, 1 addresses taken")]
    [InlineData("two functions", "\tret;\n}\n", "\tret;\n}\n.func Helper()\n{\n\tret;\n}\n", "more than one function")]
    public void RefusesWhatItDoesNotUnderstand(string what, string find, string replace, string message)
    {
        Assert.Contains(find, TwoDepots);
        var e = Assert.Throws<InvalidOperationException>(() => PtxDepots.Rewrite(TwoDepots.Replace(find, replace)));
        Assert.True(e.Message.Contains(message, StringComparison.Ordinal), $"{what}: {e.Message}");
    }

    [Fact]
    public void ACpAsyncTensorCoreKernelKeepsNoLocalMemoryAndEveryInstruction()
    {
        var context = Devices.Get("cpu").Accelerator.Context; // DeviceCatalog's context: the CUDA intrinsics are registered
        using var backend = new PTXBackend(context, CudaArchitecture.SM_80, CudaInstructionSet.ISA_84, null!);
        var method = typeof(Gram).GetMethod("ForwardTensorCoreKernel", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
        var ptx = ((PTXCompiledKernel)SpecializedCompilation.Compile(backend, method, [SpecializedValue.New(2)])).PTXAssembly; // tf32, cp.async
        Assert.Contains("cp.async.ca.shared.global", ptx);

        var (rewritten, depots) = PtxDepots.Rewrite(ptx);
        int declared = Regex.Count(ptx, @"\.local \.align 4 \.b8 __local_depot\d+\[4\];");
        Assert.True(depots > 100, $"{depots} depots rewritten");
        Assert.Equal(declared, depots);
        Assert.DoesNotContain("__local_depot", rewritten);
        Assert.DoesNotContain(".local", rewritten);
        foreach (var instruction in new[] { "mma.sync.aligned", "cp.async.ca", "cp.async.commit_group", "cp.async.wait_group", "bar.sync", "st.global" })
            Assert.Equal(Regex.Count(ptx, Regex.Escape(instruction)), Regex.Count(rewritten, Regex.Escape(instruction)));
        // Every depot store and load became exactly one move.
        int accesses = Regex.Count(ptx, @"\t(?:st|ld)\.local\.");
        Assert.Equal(Regex.Count(ptx, @"\tmov\.b32\t") + accesses, Regex.Count(rewritten, @"\tmov\.b32\t"));
    }
}
