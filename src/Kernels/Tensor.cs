using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>
/// A float32 NCHW tensor in device memory. Nothing is copied to the host unless
/// <see cref="ToHost"/> is called.
/// </summary>
public sealed class Tensor : IDisposable
{
    private MemoryBuffer1D<float, Stride1D.Dense>? buffer;

    internal Tensor(Gpu gpu, Shape4 shape)
    {
        if (shape.N <= 0 || shape.C <= 0 || shape.H <= 0 || shape.W <= 0)
            throw new ArgumentException($"Tensor shape {shape} has a non-positive dimension.");
        Gpu = gpu;
        Shape = shape;
        buffer = gpu.AllocateRaw(shape.Count);
    }

    public Gpu Gpu { get; }
    public Shape4 Shape { get; }
    public int Count => Shape.Count;

    /// <summary>The device view over all elements, for kernel launches.</summary>
    public ArrayView1D<float, Stride1D.Dense> View =>
        (buffer ?? throw new ObjectDisposedException(nameof(Tensor))).View;

    public float[] ToHost()
    {
        Gpu.Synchronize();
        return View.GetAsArray1D();
    }

    /// <summary>Reads a 1-element tensor (a loss) back to the host.</summary>
    public float ToScalar()
    {
        if (Count != 1) throw new InvalidOperationException($"ToScalar on a tensor of shape {Shape}.");
        return ToHost()[0];
    }

    public void CopyFromHost(ReadOnlySpan<float> data)
    {
        if (data.Length != Count)
            throw new ArgumentException($"CopyFromHost: {data.Length} values given for a tensor of shape {Shape} ({Count} values).");
        View.CopyFromCPU(data.ToArray());
    }

    public void CopyFrom(Tensor source)
    {
        ShapeCheck.Same("copy", "destination", Shape, "source", source.Shape);
        source.View.CopyTo(View);
    }

    public void Fill(float value) => Elementwise.Fill(this, value);

    public void Dispose()
    {
        if (buffer is null) return;
        buffer.Dispose();
        buffer = null;
        Gpu.Released(Shape.Count);
    }

    public override string ToString() => $"Tensor {Shape} on {Gpu.Name}";
}
