// Reference: a·b + c in double · Test: tests/IlgpuStyle.Tests/Kernels/MulAddTests.cs
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR;
using ILGPU.IR.Intrinsics;
using ILGPU.IR.Values;

namespace IlgpuStyle.Kernels;

/// <summary>
/// a·b + c for kernels' inner loops. ILGPU 1.5.3 emits a·b + c as two OpenCL C statements, which the OpenCL
/// compiler does not contract into a fused multiply-add, and it does not map MathF.FusedMultiplyAdd for OpenCL.
/// So <see cref="Of"/> is an ILGPU intrinsic (<see cref="Register"/>): on OpenCL it becomes OpenCL C's
/// <c>fma(a, b, c)</c> (one rounding) on devices that report hardware FMA (CL_FP_FMA), and <c>mad(a, b, c)</c>
/// (fused or not, as the device does it fast) on the others, where fma() would be a slow software routine; on CUDA
/// it is the plain a·b + c (PTX mul.f32 + add.f32, which ptxas contracts to fma by default); the CPU simulator runs
/// the C# body.
/// </summary>
public static class MulAdd
{
    /// <summary>a·b + c.</summary>
    [IntrinsicImplementation]
    public static float Of(float a, float b, float c) => a * b + c;

    /// <summary>What CUDA compiles instead of <see cref="Of"/>.</summary>
    public static float Plain(float a, float b, float c) => a * b + c;

    /// <summary>Registers the implementations of <see cref="Of"/> for the OpenCL and CUDA backends.</summary>
    internal static void Register(Context.Builder builder)
    {
        var manager = builder.GetIntrinsicManager();
        var of = Method(nameof(Of));
        manager.RegisterMethod(of, new CLIntrinsic(typeof(MulAdd), nameof(GenerateOpenCL), IntrinsicImplementationMode.GenerateCode));
        manager.RegisterMethod(of, new PTXIntrinsic(Method(nameof(Plain)), IntrinsicImplementationMode.Redirect));
    }

    /// <summary>The OpenCL C function an OpenCL backend emits for <see cref="Of"/> when it is not fma() (mad, see UseMad).</summary>
    private static readonly ConditionalWeakTable<CLBackend, string> Instructions = new();

    /// <summary>Makes the OpenCL code <paramref name="backend"/> generates use mad() instead of fma().</summary>
    public static void UseMad(CLBackend backend) => Instructions.AddOrUpdate(backend, "mad");

    /// <summary>The OpenCL C function <paramref name="backend"/> emits for <see cref="Of"/>: fma (the default) or mad.</summary>
    private static string Instruction(CLBackend backend) => Instructions.TryGetValue(backend, out var name) ? name : "fma";

    /// <summary>Whether <paramref name="backend"/> emits fma() rather than mad().</summary>
    public static bool EmitsFma(CLBackend backend) => Instruction(backend) == "fma";

    /// <summary>
    /// True when the OpenCL device reports CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG (fused multiply-add in hardware);
    /// false when it does not or cannot be asked.
    /// </summary>
    public static bool DeviceHasFma(IntPtr deviceId) => OpenClDeviceQuery.HasFma(deviceId);

    private static MethodInfo Method(string name) =>
        typeof(MulAdd).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;

    // Emits "float target = fma(a, b, c);" (or mad, see UseMad).
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var a = codeGenerator.Load(call[0]);
        var b = codeGenerator.Load(call[1]);
        var c = codeGenerator.Load(call[2]);
        var target = codeGenerator.Allocate(value);
        using var statement = codeGenerator.BeginStatement(target);
        statement.AppendCommand(Instruction(backend));
        statement.BeginArguments();
        statement.AppendArgument(a);
        statement.AppendArgument(b);
        statement.AppendArgument(c);
        statement.EndArguments();
    }
}
