using System.Reflection;
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
/// <c>mad(a, b, c)</c>, the device's multiply-add (one FMA instruction where the hardware has one; otherwise a
/// multiply and an add, each rounded — OpenCL full profile); on CUDA it is the plain a·b + c (PTX mul.f32 +
/// add.f32, which ptxas contracts to fma by default); the CPU simulator runs the C# body.
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

    private static MethodInfo Method(string name) =>
        typeof(MulAdd).GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;

    // Emits "float target = mad(a, b, c);".
    private static void GenerateOpenCL(CLBackend backend, CLCodeGenerator codeGenerator, Value value)
    {
        var call = (MethodCall)value;
        var a = codeGenerator.Load(call[0]);
        var b = codeGenerator.Load(call[1]);
        var c = codeGenerator.Load(call[2]);
        var target = codeGenerator.Allocate(value);
        using var statement = codeGenerator.BeginStatement(target);
        statement.AppendCommand("fma");
        statement.BeginArguments();
        statement.AppendArgument(a);
        statement.AppendArgument(b);
        statement.AppendArgument(c);
        statement.EndArguments();
    }
}
