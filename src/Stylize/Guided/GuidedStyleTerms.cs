using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize.Guided;

/// <summary>
/// The style term with spatial control (Gatys et al., "Controlling Perceptual Factors in Neural Style Transfer",
/// CVPR 2017, §4: guided Gram matrices). Style k applies where its mask m_k (grey = weight in [0, 1], on the content)
/// is; its target A_l,k is the Gram matrix of its own image, and the output's Gram matrix for it is taken over the
/// masked region only:
/// <code>
///   L_s = Σ_k Σ_{l∈Ls} w_l,k · mean((G_l,k − A_l,k)²)
///   G_l,k = (F_l∘m_l,k)(F_l∘m_l,k)ᵀ / (C_l · Σ_p m_l,k(p)²)       (<see cref="GuidedGram"/>; weight m enters squared)
///   w_l,k = β/|Ls| · K·b_k / mean(A_l,k²)                           (b_k: --style-blend, Σ b = 1; K styles)
/// </code>
/// Normalising by the mask's mass Σ m² (not by the whole layer's H·W) makes G_l,k the mean over the region: a binary
/// mask's region is asked for the style image's statistics, not a version diluted by its share of the picture, and
/// with an all-white mask G_l,k is the unmasked Gram matrix exactly. The blend weights, normalised to mean 1, scale
/// each style's term: equal weights give each region the full β, as one style alone would. Where no mask reaches,
/// only the content and TV terms act.
/// <para>
/// Mask at layer l: the content-sized mask (area-resized with the image at each scale) average-pooled 2×2 at every
/// VGG19 pooling before l, with VGG's floor for odd sizes (<see cref="MaskPyramid"/>) — the simple propagation of the paper, not its eroded
/// "inside" variant. Average, not max: a position's weight is then the share of its 2×2 window inside the region, the
/// grey levels stay weights in [0, 1] and the mass shrinks by 4 per level like the map, where max pooling would grow
/// each region by a position per level into its neighbour's.
/// </para>
/// Like the Gram matrices themselves, G_l,k is a sum over positions, so the tiled evaluation adds each tile's own part
/// (<see cref="AddGrams"/>, with the mask cut exactly like the features) and seeds each tile's activations with the
/// local gradient ∂L/∂F = m² ∘ (scale·(dG + dGᵀ)·F) (<see cref="Seed"/>). Untiled, the whole map is one window.
/// Test: tests/IlgpuStyle.Stylize.Tests/Stylize/GuidedStyleTests.cs, tests/IlgpuStyle.Stylize.Tests/Stylize/TiledGuidedEvaluationTests.cs.
/// </summary>
internal sealed class GuidedStyleTerms : IDisposable
{
    /// <summary>One (layer, style) term: the target, weight, Gram scale 1/(C·Σm²), and the output's G and dG.</summary>
    private sealed record Term(string Layer, int Style, int Level, Tensor Target, float Weight, float Scale, Tensor G, Tensor DG);

    private readonly List<Term> terms = new();
    private readonly List<Tensor> owned = new();
    private readonly List<MaskPyramid> pyramids = new(); // [style]: the mask at every level down to the deepest style layer
    private readonly Tensor scalar, loss;

    /// <param name="gpu">The device.</param>
    /// <param name="masks">One mask per style, at the content's size at this scale.</param>
    /// <param name="targets">Per style: (layer, Gram target of its image, weight w_l,k); owned from now on, also on failure.</param>
    public GuidedStyleTerms(Gpu gpu, IReadOnlyList<GreyMask> masks,
        IReadOnlyList<IReadOnlyList<(string Layer, Tensor Target, float Weight)>> targets)
    {
        foreach (var style in targets)
            foreach (var (_, target, _) in style) owned.Add(target);
        try
        {
            if (masks.Count != targets.Count)
                throw new ArgumentException($"guided style: {masks.Count} masks for {targets.Count} styles.");
            int width = masks[0].Width, height = masks[0].Height;
            if (masks.Any(m => m.Width != width || m.Height != height))
                throw new ArgumentException("guided style: the masks must all have the content's size.");
            scalar = Own(gpu.Allocate(Shape4.Scalar));
            loss = Own(gpu.Allocate(Shape4.Scalar));
            int deepest = targets.SelectMany(s => s).Select(t => Vgg19.Level(t.Layer)).DefaultIfEmpty(0).Max();
            foreach (var m in masks) pyramids.Add(new MaskPyramid(gpu, m, deepest));
            for (int k = 0; k < targets.Count; k++)
                foreach (var (layer, target, weight) in targets[k])
                {
                    int level = Vgg19.Level(layer);
                    // A region that vanished at this depth (or an all-black mask) has no statistics to match: no term.
                    if (!pyramids[k].Reaches(level) || weight == 0) continue;
                    terms.Add(new Term(layer, k, level, target, weight, pyramids[k].GramScale(layer),
                        Own(gpu.Allocate(target.Shape)), Own(gpu.Allocate(target.Shape))));
                }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The (layer, style) terms kept: those whose mask has mass at the layer's level and whose weight is not 0.</summary>
    internal int TermCount => terms.Count;

    /// <summary>Σ_p m_l,k(p)² per (style, layer level), for tests.</summary>
    internal float Mass(int style, int level) => pyramids[style].Mass(level);

    /// <summary>The mask of <paramref name="style"/> at <paramref name="level"/> (0 = image resolution), for tests.</summary>
    internal float[] MaskAt(int style, int level) => pyramids[style][level].ToHost();

    private Tensor Own(Tensor t)
    {
        owned.Add(t);
        return t;
    }

    /// <summary>Sets every G_l,k to 0 (before a tiled evaluation's first pass).</summary>
    public void ZeroGrams()
    {
        foreach (var t in terms) t.G.Fill(0f);
    }

    /// <summary>
    /// G_l,k += scale · (W∘m)(W∘m)ᵀ for every style's term of <paramref name="layer"/>, where W is a window of the
    /// layer's map at <paramref name="at"/> (level coordinates) and m the mask cut at the same place. A window that is
    /// the whole map writes G directly. Returns the F-shaped scratch it used (null: no term for the layer).
    /// </summary>
    public Tensor? AddGrams(TensorPool pool, string layer, Tensor window, PixelRect at)
    {
        Tensor? masked = null, partial = null;
        foreach (var t in terms.Where(t => t.Layer == layer))
        {
            masked ??= pool.Rent(window.Shape);
            var m = pyramids[t.Style].Cut(pool, t.Level, at);
            if (ReferenceEquals(m, pyramids[t.Style][t.Level])) GuidedGram.Forward(window, m, t.G, t.Scale, masked);
            else
            {
                partial ??= pool.Rent(t.G.Shape);
                GuidedGram.Forward(window, m, partial, t.Scale, masked);
                Elementwise.Axpy(1f, partial, t.G);
            }
        }
        return masked;
    }

    /// <summary>
    /// From the complete G_l,k: the style loss Σ w·mean((G − A)²) added to <paramref name="styleLoss"/> (a device
    /// scalar), and dG_l,k = ∂L/∂G_l,k = 2w/C² · (G − A) for <see cref="Seed"/>.
    /// </summary>
    public void LossAndGradients(Tensor styleLoss)
    {
        foreach (var t in terms)
        {
            Losses.Mse(t.G, t.Target, scalar, t.Weight);
            Elementwise.Axpy(1f, scalar, styleLoss);
            Losses.MseBackward(t.G, t.Target, t.DG, t.Weight, accumulate: false);
        }
    }

    /// <summary>
    /// A loss term (value 0; the loss is <see cref="LossAndGradients"/>') whose backward gives activations
    /// <paramref name="f"/> of <paramref name="layer"/> — a map or a tile's crop of it starting at (<paramref name="y"/>,
    /// <paramref name="x"/>) in level coordinates — the guided terms' gradient Σ_k m_k² ∘ (scale_k·(dG_k + dG_kᵀ)·F).
    /// <paramref name="scratch"/>: an F-shaped tensor free for the backward (e.g. <see cref="AddGrams"/>' result in
    /// the same tape step); null rents one. Null when the layer has no term.
    /// </summary>
    public Variable? Seed(Tape tape, string layer, Variable f, int y, int x, Tensor? scratch = null)
    {
        var layerTerms = terms.Where(t => t.Layer == layer).ToArray();
        if (layerTerms.Length == 0) return null;
        var at = new PixelRect(y, x, f.Shape.H, f.Shape.W);
        var masks = layerTerms.Select(t => pyramids[t.Style].Cut(tape.Pool, t.Level, at)).ToArray();
        return tape.ExternalGradient(f, (value, df, accumulate) =>
        {
            var work = scratch ?? tape.Pool.Rent(value.Shape);
            for (int i = 0; i < layerTerms.Length; i++)
                GuidedGram.Backward(value, masks[i], layerTerms[i].DG, df, layerTerms[i].Scale, accumulate || i > 0, work);
        });
    }

    /// <summary>The style loss of the whole image into a zeroed device scalar, its gradients dG, and the seeds of every layer (untiled).</summary>
    public (Tensor Loss, List<Variable> Seeds) Terms(Tape tape, IReadOnlyDictionary<string, Variable> features)
    {
        var scratch = new Dictionary<string, Tensor?>();
        foreach (var layer in terms.Select(t => t.Layer).Distinct())
        {
            var f = features[layer];
            scratch[layer] = AddGrams(tape.Pool, layer, f.Value, new PixelRect(0, 0, f.Shape.H, f.Shape.W));
        }
        loss.Fill(0f);
        LossAndGradients(loss);
        var seeds = new List<Variable>();
        foreach (var (layer, work) in scratch)
            if (Seed(tape, layer, features[layer], 0, 0, work) is { } seed) seeds.Add(seed);
        return (loss, seeds);
    }

    public void Dispose()
    {
        foreach (var t in owned) t.Dispose();
        owned.Clear();
        foreach (var p in pyramids) p.Dispose();
        pyramids.Clear();
    }
}
