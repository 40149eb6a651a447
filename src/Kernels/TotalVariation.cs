// Reference: tests/IlgpuStyle.Tests/Reference/LossReference.cs (TotalVariation) · Test: tests/IlgpuStyle.Tests/Kernels/TotalVariationTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Squared-difference total variation, the smoothness prior on the generated image (1×C×H×W, batch N = 1):
/// <code>
/// TV(x) = weight · Σ_c [ Σ_{y, x &lt; W−1} (x[c,y,x+1] − x[c,y,x])²  +  Σ_{y &lt; H−1, x} (x[c,y+1,x] − x[c,y,x])² ]
/// </code>
/// an unnormalized sum over every horizontal and every vertical neighbour pair. (jcjohnson/neural-style
/// uses the same squared differences, but only over the (H−1)×(W−1) top-left block and with a factor ½;
/// that changes the weight's scale, not the smoothing.)
/// </summary>
public static class TotalVariation
{
    // term[i] = (right neighbour − x)² + (lower neighbour − x)², each only where the neighbour exists
    private static void TermsKernel(Index1D i, View x, View term, int h, int w)
    {
        int r = i % (h * w);
        int row = r / w, col = r - row * w;
        float v = x[i], sum = 0f;
        if (col < w - 1)
        {
            float d = x[i + 1] - v;
            sum += d * d;
        }
        if (row < h - 1)
        {
            float d = x[i + w] - v;
            sum += d * d;
        }
        term[i] = sum;
    }

    // dx[i] = ∂TV/∂x[i] = 2·weight · [ (x[i] − left) + (x[i] − up) − (right − x[i]) − (down − x[i]) ],
    // each difference only where that neighbour exists. A gather: every pixel collects its own terms.
    private static void BackwardKernel(Index1D i, View x, View dx, int h, int w, float twoWeight, int accumulate)
    {
        int r = i % (h * w);
        int row = r / w, col = r - row * w;
        float v = x[i], g = 0f;
        if (col > 0) g += v - x[i - 1];
        if (col < w - 1) g -= x[i + 1] - v;
        if (row > 0) g += v - x[i - w];
        if (row < h - 1) g -= x[i + w] - v;
        g *= twoWeight;
        Output.Store(dx, i, g, accumulate);
    }

    /// <summary>loss ← TV(x) as defined on the class (weighted sum, not a mean); loss is 1×1×1×1.</summary>
    public static void Forward(Tensor x, Tensor loss, float weight)
    {
        ShapeCheck.BatchOne("total variation", "x", x.Shape);
        ShapeCheck.Equal("total variation", "loss", loss.Shape, Shape4.Scalar);
        ShapeCheck.SameDevice("total variation", x, loss);
        var gpu = x.Gpu;
        var terms = gpu.Scratch(x.Shape, "total-variation.terms");
        gpu.Kernel(TermsKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, int>(TermsKernel))(
            x.Count, x.View, terms.View, x.Shape.H, x.Shape.W);
        Reduction.Sum(terms, loss, weight);
    }

    /// <summary>
    /// Gradient of <see cref="Forward"/> with respect to x; dx ← ∂TV/∂x, or dx ← dx + ∂TV/∂x when
    /// <paramref name="accumulate"/>. dx must not be the same tensor as x.
    /// </summary>
    public static void Backward(Tensor x, Tensor dx, float weight, bool accumulate)
    {
        ShapeCheck.BatchOne("total variation backward", "x", x.Shape);
        ShapeCheck.Same("total variation backward", "x", x.Shape, "dx", dx.Shape);
        ShapeCheck.SameDevice("total variation backward", x, dx);
        if (ReferenceEquals(x, dx))
            throw new ArgumentException("total variation backward: dx must not be the same tensor as x.");
        dx.Gpu.Kernel(BackwardKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, int, int, float, int>(BackwardKernel))(
            dx.Count, x.View, dx.View, x.Shape.H, x.Shape.W, 2f * weight, accumulate ? 1 : 0);
    }
}
