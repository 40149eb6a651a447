using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff;

/// <summary>
/// A reverse-mode tape over device tensors, micrograd-style: each op runs its forward kernel at once
/// and records a closure that, walking the tape backwards, adds its inputs' gradients. Gradients flow
/// only into variables that require them (the image), so e.g. conv backward-to-weights is never run.
/// All intermediates and gradients come from a <see cref="TensorPool"/>; call <see cref="Reset"/> at the
/// start of each optimisation step to recycle them.
/// Batch size is 1 throughout (NCHW with N = 1).
/// </summary>
public sealed class Tape : IDisposable
{
    private readonly List<Action> backward = new();
    private bool backwardDone;

    public Tape(Gpu gpu)
    {
        Gpu = gpu;
        Pool = new TensorPool(gpu);
    }

    public Gpu Gpu { get; }
    public TensorPool Pool { get; }

    /// <summary>A leaf that needs no gradient (network weights, targets).</summary>
    public Variable Constant(Tensor value) => new(value, requiresGrad: false, isLoss: false);

    /// <summary>A leaf whose gradient we want (the image).</summary>
    public Variable Input(Tensor value) => new(value, requiresGrad: true, isLoss: false);

    /// <summary>Forgets every recorded op and recycles all intermediate tensors and gradients.</summary>
    public void Reset()
    {
        backward.Clear();
        backwardDone = false;
        Pool.ReturnAll();
        if (profile is not null)
        {
            Gpu.Synchronize(); // what ran before the reset is not the next op's
            profile.Restart();
        }
    }

    /// <summary>
    /// Records an op. <paramref name="output"/> must be rented from <see cref="Pool"/> (or be a caller-owned
    /// constant); <paramref name="backwardFn"/> runs during <see cref="Backward"/> only if the output received
    /// a gradient.
    /// </summary>
    public Variable Record(Tensor output, bool requiresGrad, Action<Variable>? backwardFn, bool isLoss = false,
        [System.Runtime.CompilerServices.CallerMemberName] string op = "")
    {
        if (backwardDone) throw new InvalidOperationException("Tape: record after Backward(); call Reset() first.");
        var v = new Variable(output, requiresGrad, isLoss);
        var profile = Profile;
        if (profile is not null)
        {
            Gpu.Synchronize();
            profile.Forward(op);
        }
        if (requiresGrad && backwardFn is not null)
            backward.Add(() =>
            {
                if (!(isLoss ? v.Seeded : v.GradWritten)) return;
                if (profile is null)
                {
                    backwardFn(v);
                    return;
                }
                double start = profile.Now;
                backwardFn(v);
                Gpu.Synchronize();
                profile.Backward(op, profile.Now - start);
            });
        return v;
    }

    /// <summary>
    /// When set, every op recorded from now on is timed into it (forward and backward, the device synchronized after
    /// each: slower; for the bench's per-op breakdown). Null: off.
    /// </summary>
    public OpProfile? Profile
    {
        get => profile;
        set
        {
            profile = value;
            if (value is not null)
            {
                Gpu.Synchronize();
                value.Restart();
            }
        }
    }

    private OpProfile? profile;

    /// <summary>
    /// Where an op's backward writes the gradient for <paramref name="input"/>: the first contribution
    /// overwrites (accumulate = false), later ones add (accumulate = true).
    /// </summary>
    public (Tensor Grad, bool Accumulate) GradTarget(Variable input)
    {
        if (!input.RequiresGrad) throw new InvalidOperationException("GradTarget on a variable that needs no gradient.");
        if (input.IsLoss) throw new InvalidOperationException("A loss term can only be summed into the total, not used as an op input.");
        input.Grad ??= Pool.Rent(input.Shape);
        bool accumulate = input.GradWritten;
        input.GradWritten = true;
        return (input.Grad, accumulate);
    }

    /// <summary>
    /// The total loss L = Σ terms (each already weighted by its loss op), on the device as one scalar.
    /// </summary>
    public Variable Total(params Variable[] terms)
    {
        if (terms.Length == 0) throw new ArgumentException("Total of no loss terms.");
        foreach (var t in terms)
            if (!t.IsLoss) throw new ArgumentException($"Total: a term of shape {t.Shape} is not a loss term.");
        var sum = Pool.Rent(Shape4.Scalar);
        sum.CopyFrom(terms[0].Value);
        foreach (var t in terms.Skip(1)) Elementwise.Axpy(1f, t.Value, sum);
        bool requiresGrad = terms.Any(t => t.RequiresGrad);
        return Record(sum, requiresGrad, _ =>
        {
            foreach (var t in terms) t.Seeded = true;
        }, isLoss: true);
    }

    /// <summary>Runs the recorded ops backwards from <paramref name="loss"/> (a loss term or a total).</summary>
    public void Backward(Variable loss)
    {
        if (!loss.IsLoss) throw new ArgumentException($"Backward needs a loss term or Total(...), not a tensor of shape {loss.Shape}.");
        if (backwardDone) throw new InvalidOperationException("Backward() already ran on this tape; call Reset() and record again.");
        backwardDone = true;
        loss.Seeded = true;
        for (int i = backward.Count - 1; i >= 0; i--) backward[i]();
    }

    public void Dispose() => Pool.Dispose();
}
