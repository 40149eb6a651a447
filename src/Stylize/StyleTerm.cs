using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize;

/// <summary>
/// One style layer of the objective (<see cref="GatysLoss"/>): its statistic of the features (a Gram matrix, or a mean
/// and a second moment), the style target (the blend of the style images' statistics), and the loss between them —
/// whole (<see cref="Loss"/>, a tape op) or from statistics summed over tiles (<see cref="Tiling.TiledEvaluation"/>:
/// <see cref="AddSums"/>, <see cref="LossFromSums"/>, then <see cref="TileGradient"/> per tile). Every statistic is a
/// sum over positions scaled by the whole layer's size, so tiles' statistics add up to the whole image's, and given
/// the whole statistic the gradient to a tile's features is local. Owns its device tensors.
/// </summary>
internal abstract class StyleTerm(string layer) : IDisposable
{
    public string Layer { get; } = layer;

    /// <summary>The term of <paramref name="kind"/> for <paramref name="layer"/>, its target zero until <see cref="AddTarget"/>.</summary>
    public static StyleTerm Create(StyleLossKind kind, Gpu gpu, string layer) => kind switch
    {
        StyleLossKind.MeanCov => new MeanCovStyleTerm(gpu, layer),
        _ => new GramStyleTerm(gpu, layer),
    };

    /// <summary>target += blend · statistic of <paramref name="window"/> (a whole map or a tile's own part of one whose whole shape is <paramref name="whole"/>).</summary>
    public abstract void AddTarget(Tensor window, Shape4 whole, float blend, TensorPool pool);

    /// <summary>Ends the target; <paramref name="layerWeight"/> = β/|Ls|, which the term normalizes by the target's size.</summary>
    public abstract void FinishTarget(float layerWeight);

    /// <summary>The loss term of the whole features <paramref name="features"/>, on the tape.</summary>
    public abstract Variable Loss(Tape tape, Variable features);

    /// <summary>Zeroes the sums of a tiled evaluation (allocating them at the first call).</summary>
    public abstract void ClearSums();

    /// <summary>sums += the statistic of a tile's own part <paramref name="window"/> of the whole map of shape <paramref name="whole"/>.</summary>
    public abstract void AddSums(Tensor window, Shape4 whole, TensorPool pool);

    /// <summary>loss ← the term from the summed statistics; keeps its gradient with respect to them for <see cref="TileGradient"/>.</summary>
    public abstract void LossFromSums(Tensor loss);

    /// <summary>df ← (or +=) ∂loss/∂ a tile's features <paramref name="features"/>, given the gradient <see cref="LossFromSums"/> kept.</summary>
    public abstract void TileGradient(Tensor features, Tensor df, Shape4 whole, bool accumulate);

    /// <summary>Device floats the term keeps: targets, and with <paramref name="tiled"/> the sums and their gradients.</summary>
    public static long KeptFloats(StyleLossKind kind, int channels, bool tiled)
    {
        long cc = (long)channels * channels;
        return kind == StyleLossKind.MeanCov
            ? 3 * cc + 2L * channels + (tiled ? cc + channels : 0) // μ_s, Σ_s', R and the sums μ, S; when tiled dμ, dS
            : (tiled ? 3 : 1) * cc;                                   // A; when tiled G and dG
    }

    /// <summary>‖t‖² / n, guarded against an all-zero target.</summary>
    protected static float MeanSquare(Tensor t)
    {
        using var r = t.Gpu.Allocate(Shape4.Scalar);
        float ms = Reduction.DotToHost(t, t, r) / t.Count;
        return Math.Max(ms, 1e-12f);
    }

    public abstract void Dispose();
}

/// <summary>
/// The Gatys et al. style term: w · mean((G − A)²), G = F Fᵀ / (C·H·W) of the whole layer, A the blended style Grams,
/// w = β/|Ls| / mean(A²) (so the term is ‖G − A‖²/‖A‖², invariant to the features' scale).
/// </summary>
internal sealed class GramStyleTerm : StyleTerm
{
    private readonly Tensor target;
    private Tensor? sum, gradient;
    private float weight;

    public GramStyleTerm(Gpu gpu, string layer) : base(layer)
    {
        int c = Vgg19.Channels(layer);
        target = gpu.Allocate(Gram.OutputShape(Shape4.Image(c, 1, 1)));
        target.Fill(0f);
    }

    /// <summary>The Gram scale 1/(C·H·W) of a layer's whole activation.</summary>
    public static float Scale(Shape4 whole) => 1f / whole.Count;

    public override void AddTarget(Tensor window, Shape4 whole, float blend, TensorPool pool)
    {
        var partial = pool.Rent(target.Shape);
        Gram.Forward(window, partial, Scale(whole));
        Elementwise.Axpy(blend, partial, target);
    }

    /// <summary>target += blend · <paramref name="gram"/>, a Gram target computed elsewhere (a style image's over its mask: StyleImageGrams).</summary>
    public void AddTarget(Tensor gram, float blend) => Elementwise.Axpy(blend, gram, target);

    public override void FinishTarget(float layerWeight) => weight = layerWeight / MeanSquare(target);

    public override Variable Loss(Tape tape, Variable features) =>
        tape.MseLoss(tape.Gram(features, Scale(features.Shape)), target, weight);

    public override void ClearSums()
    {
        sum ??= target.Gpu.Allocate(target.Shape);
        gradient ??= target.Gpu.Allocate(target.Shape);
        sum.Fill(0f);
    }

    public override void AddSums(Tensor window, Shape4 whole, TensorPool pool)
    {
        var partial = pool.Rent(target.Shape);
        Gram.Forward(window, partial, Scale(whole));
        Elementwise.Axpy(1f, partial, sum!);
    }

    public override void LossFromSums(Tensor loss)
    {
        Losses.Mse(sum!, target, loss, weight);
        Losses.MseBackward(sum!, target, gradient!, weight, accumulate: false);
    }

    public override void TileGradient(Tensor features, Tensor df, Shape4 whole, bool accumulate) =>
        Gram.Backward(features, gradient!, df, Scale(whole), accumulate);

    public override void Dispose()
    {
        target.Dispose();
        sum?.Dispose();
        gradient?.Dispose();
    }
}
