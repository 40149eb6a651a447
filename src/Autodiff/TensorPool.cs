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

    public void Dispose()
    {
        ReturnAll();
        foreach (var stack in free.Values)
            foreach (var t in stack) t.Dispose();
        free.Clear();
    }
}
