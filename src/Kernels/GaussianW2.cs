// Reference: tests/IlgpuStyle.Tests/Reference/GaussianW2Reference.cs · Test: tests/IlgpuStyle.Tests/Kernels/GaussianW2Tests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// A style target of the mean–covariance loss: the style's mean μ_s (1×C×1×1), its regularized covariance
/// Σ_s' = Σ_s + εI and the symmetric square root R = sqrt(Σ_s') (both 1×1×C×C), ε itself and tr(S_s) = ‖μ_s‖² + tr Σ_s
/// (the normalization of the loss). Owns its tensors.
/// </summary>
public sealed record GaussianTarget(Tensor Mean, Tensor Covariance, Tensor Root, float Epsilon, float SecondMomentTrace) : IDisposable
{
    public int Channels => Mean.Shape.C;

    public void Dispose()
    {
        Mean.Dispose();
        Covariance.Dispose();
        Root.Dispose();
    }
}

/// <summary>
/// The squared 2-Wasserstein distance between the Gaussians with a layer's feature mean and covariance and the style's
/// (Kolkin et al., <i>Style Transfer by Relaxed Optimal Transport and Self-Similarity</i>, CVPR 2019; the style loss
/// of crowsonkb/style-transfer-pytorch), from the raw moments μ, S of <see cref="Moments"/>:
/// <code>
///   Σ = S − μμᵀ + εI,    M = R Σ R  (R = sqrt(Σ_s + εI), symmetric),
///   loss = w · ( ‖μ − μ_s‖² + tr Σ + tr Σ_s' − 2·tr sqrt(M) )
/// </code>
/// with tr sqrt(M) by <see cref="NewtonSchulz.TraceSqrt"/> (K iterations) and D = ∂tr sqrt(M)/∂M its exact derivative.
/// The loss is a scalar term, so its gradients are computed with it (upstream gradient 1):
/// <code>
///   dS = ∂loss/∂S = w · (I − 2·R D R)                      (∂/∂Σ; Σ = S − μμᵀ + εI, so ∂/∂S is the same)
///   dμ = ∂loss/∂μ = 2w·(μ − μ_s) − (dS + dSᵀ)·μ           (the second term through Σ's −μμᵀ)
/// </code>
/// and <see cref="Moments.Backward"/> takes them to the features. ε = <c>relativeEpsilon</c> · tr Σ_s / C, the style's
/// mean variance (so the loss does not depend on the scale of the features), is added to both covariances: VGG
/// covariances are singular at small images (C up to 512 channels, fewer positions) and the square root's derivative
/// is unbounded at a zero eigenvalue. Scratch: 4 C×C buffers per C besides <see cref="NewtonSchulz"/>'s (<see cref="ScratchFloats"/>).
/// </summary>
public static class GaussianW2
{
    /// <summary>Largest group of the one-group loss kernel.</summary>
    private const int MaxGroup = 256;

    /// <summary>Floats of the scratch buffers (this class's and <see cref="NewtonSchulz"/>'s) one channel count C keeps.</summary>
    public static long ScratchFloats(int c) => 4L * c * c + 1 + NewtonSchulz.ScratchFloats(c);

    // cov[i,j] = second[i,j] − mean[i]·mean[j] + (i = j ? ε : 0)
    private static void CovarianceKernel(Index1D e, View second, View mean, int c, float epsilon, View cov)
    {
        int i = e / c, j = e % c;
        cov[e] = second[e] - mean[i] * mean[j] + (i == j ? epsilon : 0f);
    }

    // out[i,j] = (a[i,j] + a[j,i]) / 2
    private static void SymmetrizeKernel(Index1D e, View a, int c, View output)
    {
        int i = e / c, j = e % c;
        output[e] = 0.5f * (a[e] + a[j * c + i]);
    }

    // m[i,i] += value
    private static void AddDiagonalKernel(Index1D i, View m, int c, float value) => m[i * c + i] += value;

    // One group: loss = w·(Σ_i (μ_i − μ_s,i)² + Σ_ii + Σ_s'_ii − 2·trace).
    private static void LossKernel(View mean, View targetMean, View cov, View targetCov, View trace, int c, float weight, View loss)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX;
        float sum = 0f;
        for (int i = t; i < c; i += Group.DimX)
        {
            float d = mean[i] - targetMean[i];
            sum += d * d + cov[i * c + i] + targetCov[i * c + i];
        }
        shared[t] = sum;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) loss[0] = weight * (shared[0] - 2f * trace[0]);
    }

    // dμ_i = 2w·(μ_i − μ_s,i) − Σ_j (dS[i,j] + dS[j,i])·μ_j
    private static void MeanGradientKernel(Index1D i, View mean, View targetMean, View dSecond, int c, float weight, View dMean)
    {
        float sum = 0f;
        for (int j = 0; j < c; j++) sum += (dSecond[i * c + j] + dSecond[j * c + i]) * mean[j];
        dMean[i] = 2f * weight * (mean[i] - targetMean[i]) - sum;
    }

    /// <summary>
    /// The target from a style's moments (<see cref="Moments"/>; a blend of styles: the blended raw moments, i.e. the
    /// moments of the mixture of their features): Σ_s' = S_s − μ_sμ_sᵀ + εI with ε = relativeEpsilon·tr Σ_s / C, and
    /// R = sqrt(Σ_s') by <paramref name="iterations"/> Newton–Schulz steps, symmetrized. Reads tr Σ_s and ‖μ_s‖² back.
    /// </summary>
    public static GaussianTarget Target(Tensor mean, Tensor second, float relativeEpsilon, int iterations)
    {
        const string op = "gaussian target";
        CheckMoments(op, mean, second);
        if (!(relativeEpsilon >= 0) || !float.IsFinite(relativeEpsilon))
            throw new ArgumentOutOfRangeException(nameof(relativeEpsilon), relativeEpsilon, $"{op}: the relative epsilon must be a finite number ≥ 0.");
        var gpu = mean.Gpu;
        int c = mean.Shape.C;
        Tensor? targetMean = null, cov = null, root = null;
        try
        {
            targetMean = gpu.Allocate(mean.Shape);
            targetMean.CopyFrom(mean);
            cov = gpu.Allocate(second.Shape);
            Covariance(second, mean, 0f, cov);
            var host = cov.ToHost();
            double traceCov = 0;
            for (int i = 0; i < c; i++) traceCov += host[i * c + i];
            double meanSquare = mean.ToHost().Sum(v => (double)v * v);
            float epsilon = (float)(relativeEpsilon * Math.Max(traceCov, 0) / c);
            gpu.Kernel(AddDiagonalKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, float>(AddDiagonalKernel))(
                c, cov.View, c, epsilon);
            var unsymmetric = gpu.Scratch(second.Shape, "w2.tmp");
            NewtonSchulz.Sqrt(cov, unsymmetric, iterations);
            root = gpu.Allocate(second.Shape);
            gpu.Kernel(SymmetrizeKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, View>(SymmetrizeKernel))(
                root.Count, unsymmetric.View, c, root.View);
            return new GaussianTarget(targetMean, cov, root, epsilon, (float)(traceCov + meanSquare));
        }
        catch
        {
            targetMean?.Dispose();
            cov?.Dispose();
            root?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// loss ← w·W₂²(N(μ, Σ + εI), N(μ_s, Σ_s')) from the moments μ (<paramref name="mean"/>) and S
    /// (<paramref name="second"/>), with its gradients dμ (<paramref name="dMean"/>) and dS (<paramref name="dSecond"/>)
    /// (see the class comment). <paramref name="iterations"/>: Newton–Schulz steps for tr sqrt(M).
    /// </summary>
    public static void Loss(Tensor mean, Tensor second, GaussianTarget target, float weight, int iterations,
        Tensor loss, Tensor dMean, Tensor dSecond)
    {
        const string op = "gaussian w2";
        CheckMoments(op, mean, second);
        ShapeCheck.Same(op, "mean", mean.Shape, "target mean", target.Mean.Shape);
        ShapeCheck.Same(op, "mean", mean.Shape, "dMean", dMean.Shape);
        ShapeCheck.Same(op, "second moment", second.Shape, "dSecond", dSecond.Shape);
        ShapeCheck.Equal(op, "loss", loss.Shape, Shape4.Scalar);
        ShapeCheck.SameDevice(op, mean, target.Mean);
        ShapeCheck.SameDevice(op, mean, loss);
        var gpu = mean.Gpu;
        int c = mean.Shape.C;
        var cov = gpu.Scratch(second.Shape, "w2.cov");
        var tmp = gpu.Scratch(second.Shape, "w2.tmp");
        var m = gpu.Scratch(second.Shape, "w2.m");
        var d = gpu.Scratch(second.Shape, "w2.d");
        var trace = gpu.Scratch(Shape4.Scalar, "w2.trace");
        var root = target.Root;

        Covariance(second, mean, target.Epsilon, cov);
        MatMul.Multiply(root, cov, tmp);
        MatMul.Multiply(tmp, root, m);
        NewtonSchulz.TraceSqrt(m, trace, d, iterations);
        int group = Reduction.PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup));
        gpu.Kernel(LossKernel, a => a.LoadStreamKernel<View, View, View, View, View, int, float, View>(LossKernel))(
            new KernelConfig(1, group), mean.View, target.Mean.View, cov.View, target.Covariance.View, trace.View, c, weight, loss.View);

        MatMul.Multiply(root, d, tmp);
        MatMul.Multiply(tmp, root, dSecond, -2f * weight);
        gpu.Kernel(AddDiagonalKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, float>(AddDiagonalKernel))(
            c, dSecond.View, c, weight);
        gpu.Kernel(MeanGradientKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, View, int, float, View>(MeanGradientKernel))(
            c, mean.View, target.Mean.View, dSecond.View, c, weight, dMean.View);
    }

    private static void Covariance(Tensor second, Tensor mean, float epsilon, Tensor cov)
    {
        int c = mean.Shape.C;
        second.Gpu.Kernel(CovarianceKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, float, View>(CovarianceKernel))(
            cov.Count, second.View, mean.View, c, epsilon, cov.View);
    }

    private static void CheckMoments(string op, Tensor mean, Tensor second)
    {
        int c = mean.Shape.C;
        if (mean.Shape != Shape4.Vector(c))
            throw new ArgumentException($"{op}: mean has shape {mean.Shape}; a vector 1×C×1×1 is required.");
        ShapeCheck.Equal(op, "second moment", second.Shape, MatMul.Shape(c, c));
        ShapeCheck.SameDevice(op, mean, second);
    }
}
