namespace IlgpuStyle.Kernels;

/// <summary>Argument checks shared by every op; messages name the op and both shapes.</summary>
public static class ShapeCheck
{
    public static void Same(string op, string nameA, Shape4 a, string nameB, Shape4 b)
    {
        if (a != b)
            throw new ArgumentException($"{op}: {nameA} has shape {a} but {nameB} has shape {b}; they must be equal.");
    }

    public static void Equal(string op, string what, Shape4 actual, Shape4 expected)
    {
        if (actual != expected)
            throw new ArgumentException($"{op}: {what} has shape {actual} but {expected} is required.");
    }

    public static void BatchOne(string op, string name, Shape4 s)
    {
        if (s.N != 1)
            throw new ArgumentException($"{op}: {name} has shape {s}; only batch size N = 1 is supported.");
    }

    public static void SameDevice(string op, Tensor a, Tensor b)
    {
        if (!ReferenceEquals(a.Gpu, b.Gpu))
            throw new ArgumentException($"{op}: tensors live on different devices ({a.Gpu.Name} and {b.Gpu.Name}).");
    }
}
