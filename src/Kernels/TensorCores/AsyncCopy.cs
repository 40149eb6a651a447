// Test: through the kernels that use it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs, GramTensorCoreTests.cs:
// a plan with cp.async gives the bytes of the same plan without it) and tests/IlgpuStyle.Tests/Kernels/PtxasTests.cs (the PTX)
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace IlgpuStyle.Kernels.TensorCores;

// Asynchronous copies from global to shared memory: PTX's cp.async (sm_80+, PTX ISA 7.0+, "Data Movement and Conversion
// Instructions: cp.async"). A thread issues copies of single floats into its kernel's shared array, commits them as a
// group (cp.async.commit_group), and later waits until all but its newest n groups have landed (cp.async.wait_group n);
// a group barrier after the wait makes every thread's copies visible to all. The copies run in the background, so a
// kernel fetches the next stages while its warps multiply the current one, holding no registers for them — where plain
// loads must arrive in registers before they can be stored to shared memory. A copy whose source is outside the matrix
// writes 0 (src-size 0: nothing read, the 4 bytes zero-filled).
// Off CUDA (the CPU simulator the tests run) a copy is a plain load and store, complete at once; commit and wait do nothing.
//
// Addresses: cp.async takes a .shared destination, and an ILGPU kernel cannot compute one (a view's address is not
// available inside kernels); ILGPU 1.5.3 declares a kernel's shared allocations in PTX as __shared_alloca0, 1, … in order,
// so a kernel reads __shared_alloca0's address once (SharedArrayAddress) and each copy goes to that + 4·index — the
// kernels using it allocate exactly one shared array (PtxasTests checks their PTX for it, and ptxas refuses an unknown
// name). Once, not in every copy's asm: on sm_90 ptxas rebuilt the symbol's address in each copy (S2UR SR_CgaCtaId,
// UMOV, UPRMT: 23 of the 281 SASS instructions of a conv stage with 8 copies). A kernel whose one array is dynamic
// (SharedMemory.GetDynamic) has ILGPU's .extern __dyn_shared_alloca instead: the PTX rewrite every cp.async kernel goes
// through renames the symbol SharedArrayAddress reads (NameDynamicSharedArray). The source is a .global address: the
// host passes the view's device address (ArrayView.LoadEffectiveAddressAsPtr) as a kernel parameter; the copy converts
// it with cvta.to.global.
public static class AsyncCopy
{
    /// <summary>The PTX name ILGPU 1.5.3 gives a kernel's first (here: only) shared allocation.</summary>
    public const string SharedArraySymbol = "__shared_alloca0";

    /// <summary>The PTX name ILGPU 1.5.3 gives a kernel's dynamic shared memory (<c>.extern .shared … __dyn_shared_alloca[]</c>).</summary>
    public const string DynamicSharedArraySymbol = "__dyn_shared_alloca";

    /// <summary>
    /// <paramref name="ptx"/> with the copies' destination symbol renamed to <see cref="DynamicSharedArraySymbol"/> when the
    /// kernel's shared memory is dynamic (its PTX declares no <see cref="SharedArraySymbol"/>); unchanged otherwise. A
    /// kernel with both a static and a dynamic array is refused (<see cref="InvalidOperationException"/>): the copies could
    /// not say which they meant.
    /// </summary>
    public static string NameDynamicSharedArray(string ptx)
    {
        bool dynamic = ptx.Contains(".extern .shared", StringComparison.Ordinal) && ptx.Contains(DynamicSharedArraySymbol + "[]", StringComparison.Ordinal);
        if (!dynamic) return ptx;
        if (ptx.Contains(SharedArraySymbol + "[", StringComparison.Ordinal))
            throw new InvalidOperationException($"a kernel with cp.async declares both {SharedArraySymbol} and the dynamic {DynamicSharedArraySymbol}: the copies need one shared array");
        return SharedArrayAddressRead.Replace(ptx, "${read}" + DynamicSharedArraySymbol + ";");
    }

    /// <summary>
    /// <see cref="SharedArrayAddress"/>'s instruction as ILGPU writes it into the PTX (its operand a 32-bit register; ILGPU's
    /// own reads of the symbol are 64-bit: <c>mov.b64</c>).
    /// </summary>
    private static readonly System.Text.RegularExpressions.Regex SharedArrayAddressRead =
        new(@"(?<read>mov\.u32\s+%r\d+,\s*)" + SharedArraySymbol + ";", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// The .shared address of the kernel's one shared array (its element 0) on CUDA, for the copies' destinations
    /// (<see cref="Float"/>, <see cref="Float4"/>): read once where the kernel starts, so that ptxas keeps it in a register;
    /// 0 elsewhere (unused there).
    /// </summary>
    public static uint SharedArrayAddress()
    {
        if (!CudaAsm.IsSupported) return 0;
        CudaAsm.Emit("mov.u32 %0, " + SharedArraySymbol + ";", out uint address);
        return address;
    }

    /// <summary>
    /// shared[<paramref name="dst"/>] ← <paramref name="valid"/> ? src[<paramref name="index"/>] : 0, asynchronously on CUDA
    /// (complete after a later <see cref="WaitAllButNewest"/> that covers its group, and a barrier). <paramref name="shared"/>
    /// must be the kernel's only shared allocation, <paramref name="sharedAddress"/> its <see cref="SharedArrayAddress"/>;
    /// <paramref name="srcAddress"/> is src's device address (element 0).
    /// </summary>
    public static void Float(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, long srcAddress, int index, bool valid)
    {
        if (CudaAsm.IsSupported)
        {
            ulong address = (ulong)(srcAddress + 4L * (valid ? index : 0));
            CudaAsm.Emit(
                "{\n\t.reg .u64 src;\n\tcvta.to.global.u64 src, %1;\n\tcp.async.ca.shared.global [%0], [src], 4, %2;\n\t}",
                sharedAddress + (uint)(4 * dst), address, valid ? 4u : 0u);
            return;
        }
        shared[dst] = valid ? src[index] : 0f;
    }

    /// <summary>
    /// shared[<paramref name="dst"/> … + 3] ← src[<paramref name="index"/> … + 3] as one 16-byte copy (cp.async.cg: through
    /// L2 only) on CUDA, from <paramref name="address"/>, the device address of src[<paramref name="index"/>] (a caller
    /// copying runs at constant distances passes one base address plus constants, which ptxas carries in the copies);
    /// else <see cref="Float"/> four times. The 16-byte copy needs both ends 16-byte aligned: <paramref name="dst"/> a
    /// multiple of 4, the shared array declared with 16-byte alignment (an array of <see cref="SharedGemm.Float4"/>) and
    /// <paramref name="address"/> a multiple of 16 (the caller's guarantee, as for <see cref="GlobalLoad.Float4"/>).
    /// </summary>
    public static void Float4(ArrayView<float> shared, uint sharedAddress, int dst, ArrayView1D<float, Stride1D.Dense> src, int index, long address)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit(
                "{\n\t.reg .u64 src;\n\tcvta.to.global.u64 src, %1;\n\tcp.async.cg.shared.global [%0], [src], 16, %2;\n\t}",
                sharedAddress + (uint)(4 * dst), (ulong)address, 16u);
            return;
        }
        Float(shared, sharedAddress, dst, src, 0, index, true);
        Float(shared, sharedAddress, dst + 1, src, 0, index + 1, true);
        Float(shared, sharedAddress, dst + 2, src, 0, index + 2, true);
        Float(shared, sharedAddress, dst + 3, src, 0, index + 3, true);
    }

    /// <summary>The device address of <paramref name="view"/>'s first element: the kernels' <c>srcAddress</c> parameters (host side).</summary>
    public static long DeviceAddress(ArrayView1D<float, Stride1D.Dense> view) => view.BaseView.LoadEffectiveAddressAsPtr().ToInt64();

    /// <summary>Closes this thread's copies issued since the last commit into a group (an empty group when none).</summary>
    public static void Commit()
    {
        if (CudaAsm.IsSupported) CudaAsm.Emit("cp.async.commit_group;");
    }

    /// <summary>
    /// Waits until every group this thread committed but the newest <paramref name="newest"/> (0, 1 or 2; a constant of
    /// the kernel: the instruction takes an immediate) has landed.
    /// </summary>
    public static void WaitAllButNewest(int newest)
    {
        if (!CudaAsm.IsSupported) return;
        if (newest == 0) CudaAsm.Emit("cp.async.wait_group 0;");
        else if (newest == 1) CudaAsm.Emit("cp.async.wait_group 1;");
        else CudaAsm.Emit("cp.async.wait_group 2;");
    }
}
