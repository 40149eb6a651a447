using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize;

/// <summary>
/// The mean–covariance style term (--style-loss meancov): the squared 2-Wasserstein distance between the Gaussians with
/// the layer's feature mean and covariance and the style's (Kolkin et al. 2019; crowsonkb/style-transfer-pytorch),
/// <code>
///   W₂² = ‖μ − μ_s‖² + tr Σ + tr Σ_s − 2·tr sqrt( sqrt(Σ_s) Σ sqrt(Σ_s) ),     term = β/|Ls| · W₂² / tr S_s
/// </code>
/// (<see cref="GaussianW2"/>), with μ, Σ over the layer's H·W positions and εI added to both covariances,
/// ε = <see cref="RelativeEpsilon"/> × the style's mean variance. Several style images blend their raw moments μ_k,
/// S_k = F_k F_kᵀ/N_k (as crowsonkb does): the target is the mean and covariance of the blend's mixture of feature
/// distributions, and raw moments, unlike covariances, are linear in the blend and sums over tiles.
/// <para>
/// Normalization: tr S_s = ‖μ_s‖² + tr Σ_s is W₂² between the style and the point mass at 0, so the term is a relative
/// squared distance, invariant to the scale of the features as the Gram term's ‖G − A‖²/‖A‖² is (crowsonkb divides
/// by C instead, for torchvision's input scale only). Newton–Schulz: <see cref="Iterations"/> steps for tr sqrt per
/// evaluation (crowsonkb: 12), <see cref="TargetIterations"/> for sqrt(Σ_s), once per target.
/// </para>
/// </summary>
internal sealed class MeanCovStyleTerm : StyleTerm
{
    /// <summary>Newton–Schulz steps of tr sqrt(M) in every evaluation.</summary>
    public const int Iterations = 12;
    /// <summary>Newton–Schulz steps of the target's root sqrt(Σ_s'), once per scale.</summary>
    public const int TargetIterations = 30;
    /// <summary>ε / (tr Σ_s / C).</summary>
    public const float RelativeEpsilon = 1e-3f;

    private readonly Tensor mean, second; // the target's blended moments, then the tiled evaluation's sums
    private GaussianTarget? target;
    private Tensor? dMean, dSecond;
    private float weight;

    public MeanCovStyleTerm(Gpu gpu, string layer) : base(layer)
    {
        int c = Vgg19.Channels(layer);
        mean = gpu.Allocate(Shape4.Vector(c));
        second = gpu.Allocate(MatMul.Shape(c, c));
        mean.Fill(0f);
        second.Fill(0f);
    }

    /// <summary>The moments' scale 1/(H·W) of a layer's whole activation.</summary>
    private static float Scale(Shape4 whole) => 1f / whole.Plane;

    private void AddMoments(Tensor window, Shape4 whole, float blend, TensorPool pool)
    {
        var partialMean = pool.Rent(mean.Shape);
        var partialSecond = pool.Rent(second.Shape);
        Moments.Forward(window, partialMean, partialSecond, Scale(whole));
        Elementwise.Axpy(blend, partialMean, mean);
        Elementwise.Axpy(blend, partialSecond, second);
    }

    public override void AddTarget(Tensor window, Shape4 whole, float blend, TensorPool pool) => AddMoments(window, whole, blend, pool);

    public override void FinishTarget(float layerWeight)
    {
        target = GaussianW2.Target(mean, second, RelativeEpsilon, TargetIterations);
        weight = layerWeight / Math.Max(target.SecondMomentTrace, 1e-12f);
    }

    public override Variable Loss(Tape tape, Variable features) => tape.GaussianW2Loss(features, target!, weight, Iterations);

    public override void ClearSums()
    {
        dMean ??= mean.Gpu.Allocate(mean.Shape);
        dSecond ??= mean.Gpu.Allocate(second.Shape);
        mean.Fill(0f);
        second.Fill(0f);
    }

    public override void AddSums(Tensor window, Shape4 whole, TensorPool pool) => AddMoments(window, whole, 1f, pool);

    public override void LossFromSums(Tensor loss) => GaussianW2.Loss(mean, second, target!, weight, Iterations, loss, dMean!, dSecond!);

    // ∂L/∂F_t = (1/N)·((dS + dSᵀ)·F_t + dμ·1ᵀ): local to the tile's columns given the whole image's dS and dμ.
    public override void TileGradient(Tensor features, Tensor df, Shape4 whole, bool accumulate) =>
        Moments.Backward(features, dMean!, dSecond!, df, Scale(whole), accumulate);

    public override void Dispose()
    {
        mean.Dispose();
        second.Dispose();
        target?.Dispose();
        dMean?.Dispose();
        dSecond?.Dispose();
    }
}
