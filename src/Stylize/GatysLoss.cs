using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
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

    /// <summary>
    /// Computes the targets: P_l from <paramref name="contentImage"/> and A_l from the blended <paramref name="styles"/>.
    /// <paramref name="maxTileSide"/>: evaluate in tiles whose own part is at most that many pixels a side (null: the
    /// whole image at once); the targets are computed in tiles of the same size.
    /// </summary>
    public GatysLoss(Vgg19 network, Tensor contentImage, IReadOnlyList<(Tensor Image, float Blend)> styles,
        LossSettings o, int? maxTileSide = null)
        : this(network, contentImage, styles, o, maxTileSide, ReceptiveField.For(network.DeepestLayer))
    {
    }

    /// <summary>With a given tile geometry: tests use a smaller halo than <see cref="ReceptiveField"/>'s to see it fail.</summary>
    internal GatysLoss(Vgg19 network, Tensor contentImage, IReadOnlyList<(Tensor Image, float Blend)> styles,
        LossSettings o, int? maxTileSide, TileHalo halo)
    {
        this.network = network;
        tape = new Tape(network.Gpu);
        layers = o.Layers.ToArray();
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
            // Style targets: Σ_k blend_k · statistic_l(style_k) (Gram matrices A_l, or raw moments for meancov).
            foreach (var layer in o.StyleLayers) style.Add(StyleTerm.Create(o.StyleLoss, network.Gpu, layer));
            foreach (var (image, blend) in styles)
            {
                var styleGrid = Grid(image);
                if (styleGrid is null)
                {
                    var styleFeatures = Features(image, o.StyleLayers);
                    foreach (var term in style)
                    {
                        var f = styleFeatures[term.Layer].Value;
                        term.AddTarget(f, f.Shape, blend, tape.Pool);
                    }
                }
                else TiledEvaluation.AddTargets(network, tape, image, styleGrid, style, blend);
                ReleaseActivations();
            }
            foreach (var term in style) term.FinishTarget(o.StyleWeight / o.StyleLayers.Count);
            ReleaseActivations();
            tvWeight = o.TvWeight / contentImage.Count;
            if (contentGrid is not null) tiled = new TiledEvaluation(network, tape, contentGrid, layers, content, style, tvWeight);
        }
        catch
        {
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
        tape.Dispose();
        foreach (var (_, t, _) in content) t.Dispose();
        foreach (var term in style) term.Dispose();
    }
}
