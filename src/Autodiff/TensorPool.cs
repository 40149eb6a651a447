using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff;

/// <summary>
/// Device buffers keyed by shape. A tape rents every intermediate from here and gives them all back in
/// <see cref="ReturnAll"/>, so from the second optimisation step on, a step allocates nothing new.
/// </summary>
public sealed class TensorPool(Gpu gpu) : IDisposable
{
    private readonly Dictionary<Shape4, Stack<Tensor>> free = new();
    private readonly List<Tensor> rented = new();

    public Gpu Gpu { get; } = gpu;

    /// <summary>A tensor of the given shape; contents are undefined.</summary>
    public Tensor Rent(Shape4 shape)
    {
        var t = free.TryGetValue(shape, out var stack) && stack.Count > 0 ? stack.Pop() : Gpu.Allocate(shape);
        rented.Add(t);
        return t;
    }

    /// <summary>Makes every rented tensor available again. Tensors handed out before are now invalid.</summary>
    public void ReturnAll()
    {
        foreach (var t in rented)
        {
            if (!free.TryGetValue(t.Shape, out var stack)) free[t.Shape] = stack = new Stack<Tensor>();
            stack.Push(t);
        }
        rented.Clear();
    }

    /// <summary>
    /// Frees every tensor not rented now. Tensors are kept by shape, so a caller whose shapes change (the tiled
    /// evaluation's crops differ at the image's edges) calls this to hold one set at a time instead of one per shape.
    /// </summary>
    public void ReleaseFree()
    {
        foreach (var stack in free.Values)
            foreach (var t in stack) t.Dispose();
        free.Clear();
    }

    public void Dispose()
    {
        ReturnAll();
        foreach (var stack in free.Values)
            foreach (var t in stack) t.Dispose();
        free.Clear();
    }
}
