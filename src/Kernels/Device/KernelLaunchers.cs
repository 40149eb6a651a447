// Test: tests/IlgpuStyle.Tests/Kernels/KernelLaunchersTests.cs (each launcher shape the library loads, specialized or not,
// computes what ILGPU's own loader's launcher computes, on every device)
using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>
/// The launchers ILGPU's <c>Load…Kernel(method)</c> calls return, built from kernels loaded by the caller — so that the
/// compiled code can come from elsewhere than ILGPU's compiler in this process (<see cref="PtxKernelCache"/>). The
/// launcher's type says the shape, as it does to ILGPU: <c>Action&lt;AcceleratorStream, KernelConfig, …&gt;</c> (explicitly
/// grouped, <c>LoadKernel</c>), <c>Action&lt;KernelConfig, …&gt;</c> (the same on the default stream, <c>LoadStreamKernel</c>),
/// <c>Action&lt;Index1D/2D/3D, …&gt;</c> (implicitly grouped, groups of ILGPU's choosing, <c>LoadAutoGroupedStreamKernel</c>),
/// then the kernel's parameters. A kernel with a <see cref="SpecializedValue{T}"/> parameter is loaded once per value, at
/// the value's first launch, as ILGPU's specialization cache does.
/// </summary>
public static class KernelLaunchers
{
    /// <summary>
    /// Loads <paramref name="method"/> onto <paramref name="accelerator"/> compiled for one set of specialized values (empty
    /// for a kernel without them): the values as <see cref="SpecializedValue{T}"/> objects, and the step that loads a
    /// kernel compiled for the accelerator.
    /// </summary>
    public delegate Kernel Loader(Accelerator accelerator, MethodInfo method, object[] specialized, Func<CompiledKernel, Kernel> load);

    /// <summary>
    /// Runs one launch of a kernel compiled for one set of specialized values: the stream, the launch's extent (a
    /// <see cref="KernelConfig"/>, or the index of an implicitly grouped kernel) and the kernel's arguments, boxed.
    /// </summary>
    public delegate void Runner(AcceleratorStream stream, object extent, object?[] arguments);

    /// <summary>
    /// Makes the <see cref="Runner"/> of <paramref name="method"/> on <paramref name="accelerator"/> for one set of specialized values; <paramref name="rewriteDepots"/>:
    /// whether the CUDA path loads it through <see cref="RewrittenPtxKernels"/>. For kernels that run elsewhere than on an
    /// ILGPU accelerator (the tests' PTX interpreter).
    /// </summary>
    public delegate Runner RunnerSource(Accelerator accelerator, MethodInfo method, object[] specialized, bool rewriteDepots);

    /// <summary>A <typeparamref name="TDelegate"/> launcher of <paramref name="method"/> whose kernels <paramref name="loader"/> loads.</summary>
    public static TDelegate Create<TDelegate>(Accelerator accelerator, MethodInfo method, Loader loader) where TDelegate : Delegate =>
        Create<TDelegate>(accelerator, method, (specialized, withStream, implicitlyGrouped) =>
            Launch(loader(accelerator, method, specialized, compiled => implicitlyGrouped
                ? accelerator.LoadAutoGroupedKernel(compiled)
                : accelerator.LoadKernel(compiled)), withStream));

    /// <summary>A <typeparamref name="TDelegate"/> launcher of <paramref name="method"/> whose launches <paramref name="source"/>'s runners run.</summary>
    public static TDelegate Create<TDelegate>(Accelerator accelerator, MethodInfo method, RunnerSource source) where TDelegate : Delegate =>
        Create<TDelegate>(accelerator, method, (specialized, withStream, _) => Wrap(source(accelerator, method, specialized, rewriteDepots: false), withStream));

    /// <summary>
    /// <paramref name="runner"/> as a launcher of type <paramref name="launcher"/>: <c>Action&lt;AcceleratorStream, extent, …the
    /// kernel's parameters&gt;</c> (the type ILGPU's <see cref="Kernel.CreateLauncherDelegate{TDelegate}"/> makes).
    /// </summary>
    public static Delegate Wrap(Runner runner, Type launcher)
    {
        var parameters = launcher.GetMethod("Invoke")!.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        if (parameters.Length < 2 || parameters[0].Type != typeof(AcceleratorStream))
            throw new ArgumentException($"{launcher.Name} does not start with a stream and an extent");
        var arguments = Expression.NewArrayInit(typeof(object), parameters[2..].Select(p => Expression.Convert(p, typeof(object))));
        var body = Expression.Invoke(Expression.Constant(runner), parameters[0], Expression.Convert(parameters[1], typeof(object)), arguments);
        return Expression.Lambda(launcher, body, parameters).Compile();
    }

    // The launcher of TDelegate's shape over launchers of one specialized value each: launcherOf(values, the launcher type
    // with a stream, whether the kernel is implicitly grouped).
    private static TDelegate Create<TDelegate>(Accelerator accelerator, MethodInfo method, Func<object[], Type, bool, Delegate> launcherOf)
        where TDelegate : Delegate
    {
        var parameters = typeof(TDelegate).GetMethod("Invoke")!.GetParameters()
            .Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        bool hasStream = parameters.Length > 0 && parameters[0].Type == typeof(AcceleratorStream);
        var rest = hasStream ? parameters[1..] : parameters; // the launch's extent (KernelConfig or index), the kernel's arguments
        bool implicitlyGrouped = SpecializedCompilation.IsImplicitlyGrouped(method);
        var kernelParameters = method.GetParameters().Select(p => p.ParameterType).ToArray();
        var expected = implicitlyGrouped ? kernelParameters : [typeof(KernelConfig), .. kernelParameters];
        if (!rest.Select(p => p.Type).SequenceEqual(expected))
            throw new ArgumentException($"{typeof(TDelegate).Name} does not launch {method.Name} ({string.Join(", ", expected.Select(t => t.Name))})");

        // ILGPU's launcher of a loaded kernel: the stream, then the same parameters.
        var withStream = Expression.GetDelegateType([typeof(AcceleratorStream), .. rest.Select(p => p.Type), typeof(void)]);
        Delegate Launcher(object[] specialized) => launcherOf(specialized, withStream, implicitlyGrouped);

        var specializedParameters = rest.Where(p => SpecializedCompilation.IsSpecialized(p.Type)).ToArray();
        Expression stream = hasStream ? parameters[0] : Expression.Constant(accelerator.DefaultStream, typeof(AcceleratorStream));
        Expression target;
        if (specializedParameters.Length == 0)
        {
            var launcher = Launcher([]);
            if (withStream == typeof(TDelegate)) return (TDelegate)launcher;
            target = Expression.Constant(launcher, withStream);
        }
        else if (specializedParameters.Length == 1)
        {
            // The value's launcher, looked up at each launch without boxing: PerValue<T>.Get(parameter.Value).
            var parameter = specializedParameters[0];
            var valueType = parameter.Type.GetGenericArguments()[0];
            var perValue = Activator.CreateInstance(typeof(PerValue<>).MakeGenericType(valueType),
                (Func<object[], Delegate>)Launcher)!;
            target = Expression.Convert(
                Expression.Call(Expression.Constant(perValue), "Get", null, Expression.Property(parameter, "Value")), withStream);
        }
        else throw new NotSupportedException($"{method.Name}: more than one specialized parameter");
        return Expression.Lambda<TDelegate>(Expression.Invoke(target, [stream, .. rest]), parameters).Compile();
    }

    private static readonly MethodInfo CreateLauncherDelegate =
        typeof(Kernel).GetMethod(nameof(Kernel.CreateLauncherDelegate))!;

    private static Delegate Launch(Kernel kernel, Type launcher) =>
        (Delegate)CreateLauncherDelegate.MakeGenericMethod(launcher).Invoke(kernel, null)!;

    /// <summary>One launcher per specialized value, made at the value's first launch.</summary>
    private sealed class PerValue<T>(Func<object[], Delegate> launcher) where T : unmanaged, IEquatable<T>
    {
        private readonly ConcurrentDictionary<T, Delegate> launchers = new();

        public Delegate Get(T value) =>
            launchers.TryGetValue(value, out var d) ? d : launchers.GetOrAdd(value, v => launcher([SpecializedValue.New(v)]));
    }
}
