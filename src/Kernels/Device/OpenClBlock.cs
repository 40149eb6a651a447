// Reference: none (code emission) · Test: the kernels that use it, on opencl: tests/IlgpuStyle.Tests/Kernels/Conv2dWinogradTests.cs, GramTests.cs
using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.OpenCL;
using ILGPU.Backends.PTX;
using ILGPU.IR.Intrinsics;
using ILGPU.IR;
using ILGPU.IR.Values;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Writes one OpenCL C block statement for an ILGPU intrinsic (VectorProduct16.cs, WinogradVectorInput.cs, WinogradVectorOutput.cs): the call's
/// arguments bound to local names first (<see cref="Pointer"/>, <see cref="Int"/>), then code that uses only those names.
/// Local names end in '_' and so cannot clash with ILGPU's own (varN, view_N). ILGPU 1.5.3's OpenCL code keeps a view as
/// a struct whose field_0 is the element pointer; the kernel tests on opencl fail if that ever changes.
/// </summary>
internal sealed class OpenClBlock : IDisposable
{
    private readonly CLCodeGenerator generator;
    private readonly MethodCall call;
    private CLCodeGenerator.StatementEmitter statement; // a struct: not readonly, so that calls change this copy

    /// <summary>
    /// Registers <paramref name="type"/>'s public static <paramref name="method"/> as an ILGPU intrinsic: OpenCL code from
    /// its <paramref name="generator"/> (signature of CLIntrinsic's code generators: a block written with this class), and
    /// on CUDA a redirect to <paramref name="scalar"/>, the same computation in C#; the CPU simulator runs the method's own
    /// C# body.
    /// </summary>
    internal static void RegisterIntrinsic(Context.Builder builder, Type type, string method, string generator, string scalar)
    {
        MethodInfo Public(string name) => type.GetMethod(name, BindingFlags.Public | BindingFlags.Static)!;
        var manager = builder.GetIntrinsicManager();
        manager.RegisterMethod(Public(method), new CLIntrinsic(type, generator, IntrinsicImplementationMode.GenerateCode));
        manager.RegisterMethod(Public(method), new PTXIntrinsic(Public(scalar), IntrinsicImplementationMode.Redirect));
    }

    public OpenClBlock(CLCodeGenerator generator, Value value)
    {
        this.generator = generator;
        call = (MethodCall)value;
        statement = generator.BeginStatement("{");
    }

    /// <summary>Raw OpenCL C.</summary>
    public void Text(string code) => statement.AppendCommand(code);

    /// <summary><c>declaration = view argument's pointer + offset argument;</c> (e.g. "__generic float* v_").</summary>
    public void Pointer(string declaration, int viewArgument, int offsetArgument)
    {
        var view = generator.Load(call[viewArgument]);
        var offset = generator.Load(call[offsetArgument]);
        Text($" {declaration} = ");
        statement.Append(view);
        Text(".field_0 + ");
        statement.Append(offset);
        Text(";");
    }

    /// <summary><c>const int name = int argument;</c></summary>
    public void Int(string name, int argument) => Scalar("int", name, argument);

    /// <summary><c>const float name = float argument;</c></summary>
    public void Float(string name, int argument) => Scalar("float", name, argument);

    private void Scalar(string type, string name, int argument)
    {
        var variable = generator.Load(call[argument]);
        Text($" const {type} {name} = ");
        statement.Append(variable);
        Text(";");
    }

    /// <summary>Closes the block.</summary>
    public void Dispose()
    {
        Text(" }");
        statement.Finish();
    }
}
