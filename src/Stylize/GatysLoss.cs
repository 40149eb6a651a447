using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Guided;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize;

/// <summary>Loss values of one evaluation, read back to the host.</summary>
public readonly record struct LossValues(float Content, float Style, float Tv, float Total);

/// <summary>
/// The Gatys et al. objective at one image size, with every term normalized so that the defaults do not depend
/// on which VGG19 weights (Keras 0..255 BGR or torchvision 0..1 RGB) are loaded:
/// <code>
///   L(x) = α/|Lc| · Σ_{l∈Lc} ‖F_l(x) − P_l‖² / ‖P_l‖²
///        + β/|Ls| · Σ_{l∈Ls} ‖G_l(x) − A_l‖² / ‖A_l‖²,     G_l = F_l F_lᵀ / (C_l·H_l·W_l)
///        + γ · TV(x) / (3·H·W),                             TV(x) = Σ (x[c,i,j+1]−x[c,i,j])² + (x[c,i+1,j]−x[c,i,j])²
/// </code>
/// F_l are the activations (C_l × H_l·W_l), P_l the content image's, A_l the (blended) style Gram matrices and x the
/// RGB image in 0..1. Each term is a relative squared error, so it is invariant to the network's input scale. With
/// <see cref="StyleLossKind.MeanCov"/> the style term of a layer is instead β/|Ls| · W₂²/tr S_s between the Gaussians
/// of the features' and the style's mean and covariance (<see cref="MeanCovStyleTerm"/>).
/// <para>
/// With a tile size smaller than the image (<see cref="TiledEvaluation"/>), the network runs on one tile at a time
/// and L and ∇L are the same as the whole image's up to float rounding; device memory is then bounded by one tile's
/// activations plus the image-sized tensors (targets P_l, x, ∇L).
/// </para>
/// <para>
/// With masks (spatial control), each style has its own target and its term is taken over its mask's region only:
/// the style term is then <see cref="GuidedStyleTerms"/>' instead of the one above; without masks nothing changes.
/// A mask on a style image restricts where that style's statistics come from: its target A_l,k is the guided Gram
/// matrix of its image over that mask (<see cref="StyleImageGrams"/>), with or without masks on the content.
/// </para>
/// </summary>
public sealed class GatysLoss : IDisposable
{
    private readonly Vgg19 network;
    private readonly Tape tape;
    private readonly List<(string Layer, Tensor Target, float Weight)> content = new();
    private readonly List<StyleTerm> style = new();
    private readonly float tvWeight;
    private readonly string[] layers;
    private readonly TiledEvaluation? tiled;
    private readonly GuidedStyleTerms? guided;

    /// <summary>
    /// Computes the targets: P_l from <paramref name="contentImage"/> and A_l from the blended <paramref name="styles"/>.
    /// <paramref name="maxTileSide"/>: evaluate in tiles whose own part is at most that many pixels a side (null: the
    /// whole image at once); the targets are computed in tiles of the same size. <paramref name="masks"/>: one per
    /// style, at the content image's size (spatial control, <see cref="GuidedStyleTerms"/>); null: none.
    /// <paramref name="styleImageMasks"/>: one per style (null entries: none), each at its style image's size: that
    /// style's Gram target is taken over its mask (<see cref="StyleImageGrams"/>); null: none.
    /// </summary>
    public GatysLoss(Vgg19 network, Tensor contentImage, IReadOnlyList<(Tensor Image, float Blend)> styles,
        LossSettings o, int? maxTileSide = null, IReadOnlyList<GreyMask>? masks = null, IReadOnlyList<GreyMask?>? styleImageMasks = null)
        : this(network, contentImage, styles, o, maxTileSide, ReceptiveField.For(network.DeepestLayer), masks, styleImageMasks)
    {
    }

    /// <summary>With a given tile geometry: tests use a smaller halo than <see cref="ReceptiveField"/>'s to see it fail.</summary>
    internal GatysLoss(Vgg19 network, Tensor contentImage, IReadOnlyList<(Tensor Image, float Blend)> styles,
        LossSettings o, int? maxTileSide, TileHalo halo, IReadOnlyList<GreyMask>? masks = null,
        IReadOnlyList<GreyMask?>? styleImageMasks = null)
    {
        this.network = network;
        tape = new Tape(network.Gpu);
        layers = o.Layers.ToArray();
        var ownTargets = new List<Dictionary<string, Tensor>>(); // with masks: each style's A_l,k
        TileGrid? Grid(Tensor image)
        {
            if (maxTileSide is not int side) return null;
            var grid = TileGrid.Create(image.Shape.W, image.Shape.H, side, halo);
            return grid.Single ? null : grid;
        }
        try
        {
            // Content targets P_l.
            var contentGrid = Grid(contentImage);
            var contentTargets = contentGrid is null
                ? Features(contentImage, o.ContentLayers).ToDictionary(kv => kv.Key, kv => Keep(kv.Value))
                : TiledEvaluation.FeatureMaps(network, tape, contentImage, contentGrid, o.ContentLayers);
            foreach (var layer in o.ContentLayers)
            {
                var p = contentTargets[layer];
                content.Add((layer, p, o.ContentWeight / o.ContentLayers.Count / MeanSquare(p)));
            }
            ReleaseActivations();
            if ((styleImageMasks ?? []).Any(m => m is not null) && o.StyleLoss != StyleLossKind.Gram)
                throw new ArgumentException("GatysLoss: style image masks work with the gram style loss only.");
            if (styleImageMasks is not null && styleImageMasks.Count != styles.Count)
                throw new ArgumentException($"GatysLoss: {styleImageMasks.Count} style image masks for {styles.Count} styles.");
            if (masks is not null)
            {
                // Spatial control: each style has its own Gram targets A_l,k (Gram statistic only; checked by
                // LossSettings/StyleMasks before a run) and its guided output Gram over its region (GuidedStyleTerms).
                if (masks.Count != styles.Count)
                    throw new ArgumentException($"GatysLoss: {masks.Count} masks for {styles.Count} styles.");
                if (o.StyleLoss != StyleLossKind.Gram)
                    throw new ArgumentException("GatysLoss: style masks work with the gram style loss only.");
                var unreached = new List<HashSet<string>>();
                for (int k = 0; k < styles.Count; k++)
                {
                    var (grams, none) = StyleImageGrams.Compute(network, tape, styles[k].Image, styleImageMasks?[k], Grid(styles[k].Image), o.StyleLayers);
                    ownTargets.Add(grams);
                    unreached.Add(none);
                    ReleaseActivations();
                }
                // w_l,k = β/|Ls| · K·b_k / mean(A_l,k²): the blend weights, normalised to mean 1, scale each style's term;
                // 0 (no term) where the style image's mask does not reach the layer.
                var weighted = ownTargets.Select((own, k) => o.StyleLayers.Select(layer => (layer, own[layer],
                    unreached[k].Contains(layer) ? 0f
                        : o.StyleWeight / o.StyleLayers.Count * (styles[k].Blend * styles.Count) / MeanSquare(own[layer]))).ToList()).ToList();
                ownTargets.Clear(); // GuidedStyleTerms owns them now, also if it fails
                guided = new GuidedStyleTerms(network.Gpu, masks, weighted);
            }
            else
            {
                // Style targets: Σ_k blend_k · statistic_l(style_k) (Gram matrices A_l, or raw moments for meancov).
                foreach (var layer in o.StyleLayers) style.Add(StyleTerm.Create(o.StyleLoss, network.Gpu, layer));
                // Styles with a mask on their image: their guided Gram targets first (StyleImageGrams), to know which
                // layers their masks reach; at a layer one does not reach, the others' blend weights are renormalised.
                var imageGrams = new (Dictionary<string, Tensor> Grams, HashSet<string> Unreached)?[styles.Count];
                for (int k = 0; k < styles.Count; k++)
                    if (styleImageMasks?[k] is { } imageMask)
                    {
                        imageGrams[k] = StyleImageGrams.Compute(network, tape, styles[k].Image, imageMask, Grid(styles[k].Image), o.StyleLayers);
                        ownTargets.Add(imageGrams[k]!.Value.Grams);
                        ReleaseActivations();
                    }
                bool Reaches(int k, string layer) => imageGrams[k] is not { } g || !g.Unreached.Contains(layer);
                float Blend(int k, string layer)
                {
                    if (!Reaches(k, layer)) return 0f;
                    if (Enumerable.Range(0, styles.Count).All(j => Reaches(j, layer))) return styles[k].Blend;
                    float reached = Enumerable.Range(0, styles.Count).Where(j => Reaches(j, layer)).Sum(j => styles[j].Blend);
                    return styles[k].Blend * (styles.Sum(s => s.Blend) / reached);
                }
                for (int k = 0; k < styles.Count; k++)
                {
                    if (imageGrams[k] is { } own)
                    {
                        foreach (var term in style)
                            ((GramStyleTerm)term).AddTarget(own.Grams[term.Layer], Blend(k, term.Layer));
                        continue;
                    }
                    var image = styles[k].Image;
                    var styleGrid = Grid(image);
                    if (styleGrid is null)
                    {
                        var styleFeatures = Features(image, o.StyleLayers);
                        foreach (var term in style)
                        {
                            var f = styleFeatures[term.Layer].Value;
                            term.AddTarget(f, f.Shape, Blend(k, term.Layer), tape.Pool);
                        }
                    }
                    else TiledEvaluation.AddTargets(network, tape, image, styleGrid, style, layer => Blend(k, layer));
                    ReleaseActivations();
                }
                // A layer that no style image with a blend weight reaches has no target: no term (weight 0).
                foreach (var term in style)
                    term.FinishTarget(Enumerable.Range(0, styles.Count).Any(k => Blend(k, term.Layer) > 0) ? o.StyleWeight / o.StyleLayers.Count : 0f);
                foreach (var t in ownTargets.SelectMany(own => own.Values)) t.Dispose();
                ownTargets.Clear();
                ReleaseActivations();
            }
            tvWeight = o.TvWeight / contentImage.Count;
            if (contentGrid is not null) tiled = new TiledEvaluation(network, tape, contentGrid, layers, content, style, tvWeight, guided);
        }
        catch
        {
            foreach (var t in ownTargets.SelectMany(own => own.Values)) t.Dispose(); // not yet GuidedStyleTerms'

            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Frees the tape's tensors after a target image's forward pass: the next image (a style image, then the
    /// evaluation) has other shapes, so keeping them would only add to the peak.
    /// </summary>
    private void ReleaseActivations()
    {
        tape.Reset();
        tape.Pool.ReleaseFree();
    }

    /// <summary>When set, the tape times every op of the following evaluations into it (the bench's per-op breakdown).</summary>
    public OpProfile? Profile
    {
        get => tape.Profile;
        set => tape.Profile = value;
    }

    /// <summary>Values of the last <see cref="Evaluate"/>.</summary>
    public LossValues Last { get; private set; }

    /// <summary>The tiles of an evaluation (null: the whole image at once).</summary>
    public TileGrid? Tiles => tiled?.Grid;

    /// <summary>Called after each tile of a tiled evaluation: (tiles done, tiles per evaluation), two passes counted.</summary>
    public Action<int, int>? TileDone { get; set; }

    /// <summary>Evaluates L(x), writes ∇L(x) into <paramref name="gradient"/> and returns L (an Objective).</summary>
    public float Evaluate(Tensor x, Tensor gradient)
    {
        if (tiled is not null)
        {
            Last = tiled.Evaluate(x, gradient, TileDone);
            return Last.Total;
        }
        tape.Reset();
        var image = tape.Input(x);
        var features = network.Forward(tape, image, layers);
        var contentTerms = content.Select(c => tape.MseLoss(features[c.Layer], c.Target, c.Weight)).ToArray();
        var styleTerms = style.Select(s => s.Loss(tape, features[s.Layer])).ToArray();
        var tv = tape.TotalVariationLoss(image, tvWeight);
        if (guided is not null) return EvaluateGuided(image, features, contentTerms, tv, gradient);
        var total = tape.Total([.. contentTerms, .. styleTerms, tv]);
        tape.Backward(total);
        gradient.CopyFrom(image.Grad!);
        Last = new LossValues(
            contentTerms.Sum(t => t.Value.ToScalar()),
            styleTerms.Sum(t => t.Value.ToScalar()),
            tv.Value.ToScalar(),
            total.Value.ToScalar());
        return Last.Total;
    }

    /// <summary>
    /// The untiled evaluation with masks: the guided style terms' loss (computed on the side) and their gradients
    /// seeded into the activations (<see cref="GuidedStyleTerms.Terms"/>), beside the content and TV terms.
    /// </summary>
    private float EvaluateGuided(Variable image, IReadOnlyDictionary<string, Variable> features, Variable[] contentTerms,
        Variable tv, Tensor gradient)
    {
        var (styleLoss, seeds) = guided!.Terms(tape, features);
        var total = tape.Total([.. contentTerms, .. seeds, tv]);
        tape.Backward(total);
        gradient.CopyFrom(image.Grad!);
        float c = contentTerms.Sum(t => t.Value.ToScalar()), s = styleLoss.ToScalar(), t = tv.Value.ToScalar();
        Last = new LossValues(c, s, t, c + s + t);
        return Last.Total;
    }

    /// <summary>The Gram scale 1/(C·H·W) of a layer's whole activation.</summary>
    internal static float GramScale(Shape4 f) => 1f / f.Count;

    private IReadOnlyDictionary<string, Variable> Features(Tensor image, IReadOnlyList<string> wanted)
    {
        tape.Reset();
        return network.Forward(tape, tape.Constant(image), wanted.ToArray());
    }

    /// <summary>A copy that outlives the tape's next Reset.</summary>
    private Tensor Keep(Variable v)
    {
        var t = network.Gpu.Allocate(v.Shape);
        t.CopyFrom(v.Value);
        return t;
    }

    /// <summary>‖t‖² / n, guarded against an all-zero target.</summary>
    private float MeanSquare(Tensor t)
    {
        using var r = network.Gpu.Allocate(Shape4.Scalar);
        float ms = Reduction.DotToHost(t, t, r) / t.Count;
        return Math.Max(ms, 1e-12f);
    }

    public void Dispose()
    {
        tiled?.Dispose();
        guided?.Dispose();
        tape.Dispose();
        foreach (var (_, t, _) in content) t.Dispose();
        foreach (var term in style) term.Dispose();
    }
}
