// Reference: tests/IlgpuStyle.Tests/Reference/GaussianW2Reference.cs (Moments, MomentsBackward) · Test: tests/IlgpuStyle.Tests/Kernels/GaussianW2Tests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// First and second raw moments of a feature map, the statistics of the mean–covariance style loss
/// (<see cref="GaussianW2"/>). The 1×C×H×W tensor f is the matrix F of C rows and P = H·W columns, and
/// <code>
///   μ = scale · F·1   (C-vector, 1×C×1×1),     S = scale · F Fᵀ   (C×C, 1×1×C×C: <see cref="Gram"/>),
/// </code>
/// with scale = 1/N for the N positions of the whole layer (a tile's share when it is a tile: tiled sums add up to
/// the whole layer's). Raw moments, not the covariance, because they are sums over positions (tiles add) and linear
/// in a blend of style images. The backward of any L(μ, S):
/// <code>
///   ∂L/∂F = scale · ( (dS + dSᵀ)·F + dμ·1ᵀ )
/// </code>
/// </summary>
public static class Moments
{
    /// <summary>Largest group of the row-sum kernel (its static shared array).</summary>
    private const int MaxGroup = 256;

    // mean[c] = scale · Σ_p f[c, p]: group c sums row c (strided, then a tree in shared memory; deterministic).
    private static void RowMeanKernel(View f, int p, float scale, View mean)
    {
        var shared = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, row = Grid.IdxX;
        float sum = 0f;
        for (int q = t; q < p; q += Group.DimX) sum += f[row * p + q];
        shared[t] = sum;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) mean[row] = scale * shared[0];
    }

    // df[c, q] += scale · dMean[c]
    private static void AddRowKernel(Index1D e, View dMean, int p, float scale, View df) => df[e] += scale * dMean[e / p];

    /// <summary>The mean's shape for a feature map of shape <paramref name="f"/>: 1×C×1×1.</summary>
    public static Shape4 MeanShape(Shape4 f) => Shape4.Vector(f.C);

    /// <summary>mean ← scale·F·1, second ← scale·F Fᵀ for the feature map f (1×C×H×W).</summary>
    public static void Forward(Tensor f, Tensor mean, Tensor second, float scale)
    {
        const string op = "moments";
        ShapeCheck.BatchOne(op, "f", f.Shape);
        ShapeCheck.Equal(op, "mean", mean.Shape, MeanShape(f.Shape));
        ShapeCheck.SameDevice(op, f, mean);
        Gram.Forward(f, second, scale);
        var gpu = f.Gpu;
        int group = Reduction.PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup));
        gpu.Kernel(RowMeanKernel, a => a.LoadStreamKernel<View, int, float, View>(RowMeanKernel))(
            new KernelConfig(f.Shape.C, group), f.View, f.Shape.Plane, scale, mean.View);
    }

    /// <summary>
    /// df ← scale·((dS + dSᵀ)·F + dμ·1ᵀ), or df ← df + that when <paramref name="accumulate"/>. df must not alias f or dS.
    /// </summary>
    public static void Backward(Tensor f, Tensor dMean, Tensor dSecond, Tensor df, float scale, bool accumulate)
    {
        const string op = "moments backward";
        ShapeCheck.Equal(op, "dMean", dMean.Shape, MeanShape(f.Shape));
        ShapeCheck.SameDevice(op, f, dMean);
        Gram.Backward(f, dSecond, df, scale, accumulate);
        df.Gpu.Kernel(AddRowKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, int, float, View>(AddRowKernel))(
            df.Count, dMean.View, f.Shape.Plane, scale, df.View);
    }
}
