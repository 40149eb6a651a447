// Reference: tests/IlgpuStyle.Tests/Reference/MaskReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/MaskingTests.cs
namespace IlgpuStyle.Kernels;

/// <summary>
/// The guided Gram matrix of Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer" (CVPR 2017, §4):
/// the Gram matrix of the features weighted by a guidance channel m (a mask, grey = weight in [0, 1]):
/// <code>
///   G = scale · (F∘m)(F∘m)ᵀ,          G[i,j] = scale · Σ_p m(p)² F[i,p] F[j,p]
///   ∂L/∂F = m² ∘ (scale · (dG + dGᵀ) · F)         (the mask is constant; (dG+dGᵀ)(F∘m) = ((dG+dGᵀ)F)∘m, times m again)
/// </code>
/// Composed of <see cref="Masking"/> and the fast <see cref="Gram"/> kernels: F∘m (forward) and the Gram gradient of F
/// (backward) are written to a caller's scratch tensor of F's shape. The mask weight thus enters squared, as in the
/// paper's F∘T_r; the caller chooses scale (the style loss uses 1/(C·Σ_p m(p)²): see IlgpuStyle.Stylize.GuidedStyleTerms).
/// </summary>
public static class GuidedGram
{
    /// <summary>g ← scale · (F∘m)(F∘m)ᵀ. f: 1×C×H×W, mask: 1×1×H×W, g: 1×1×C×C; scratch: F's shape (overwritten).</summary>
    public static void Forward(Tensor f, Tensor mask, Tensor g, float scale, Tensor scratch)
    {
        CheckScratch("guided gram", f, scratch);
        Masking.Multiply(f, mask, scratch);
        Gram.Forward(scratch, g, scale);
    }

    /// <summary>
    /// df ← m² ∘ (scale · (dG + dGᵀ) · F), or df ← df + that when <paramref name="accumulate"/>; scratch: F's shape
    /// (overwritten; not df, f or dG).
    /// </summary>
    public static void Backward(Tensor f, Tensor mask, Tensor dG, Tensor df, float scale, bool accumulate, Tensor scratch)
    {
        CheckScratch("guided gram backward", f, scratch);
        if (ReferenceEquals(scratch, df)) throw new ArgumentException("guided gram backward: scratch must not be df.");
        Gram.Backward(f, dG, scratch, scale, accumulate: false);
        Masking.Multiply(scratch, mask, df, squared: true, accumulate);
    }

    private static void CheckScratch(string op, Tensor f, Tensor scratch)
    {
        ShapeCheck.Same(op, "f", f.Shape, "scratch", scratch.Shape);
        if (ReferenceEquals(scratch, f)) throw new ArgumentException($"{op}: scratch must not be f.");
    }
}
