using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Guided;

namespace IlgpuStyle.Stylize.Tiling;

/// <summary>
/// The Gatys objective (<see cref="GatysLoss"/>) evaluated one tile at a time, exactly. Every term is a sum over
/// positions, the style term through the Gram matrices, which are themselves sums over positions:
/// <code>
///   G_l = scale_l · Σ_tiles F_l,t F_l,tᵀ,   scale_l = 1/(C_l·H_l·W_l) of the WHOLE layer,   F_l,t = the tile's own columns
/// </code>
/// and given the whole G_l, the style term's gradient with respect to a tile's activations is local:
/// <code>
///   L_s = w_l · mean((G_l − A_l)²)  ⇒  ∂L_s/∂G_l = 2·w_l/C_l² · (G_l − A_l) =: dG_l,
///   ∂L_s/∂F_l,t = scale_l · (dG_l + dG_lᵀ) · F_l,t                                         (Gram.Backward)
///   ∂L_c/∂F_l,t = 2·w_l/(C_l·H_l·W_l) · (F_l,t − P_l,t)                                     (Losses.MseBackward)
/// </code>
/// The mean–covariance style term (<see cref="MeanCovStyleTerm"/>) works the same way with the raw moments
/// μ_l = (1/N_l) Σ_tiles F_l,t·1 and S_l = (1/N_l) Σ_tiles F_l,t F_l,tᵀ: from the whole μ_l, S_l come the loss and
/// dμ_l, dS_l (<see cref="GaussianW2"/>), and then ∂L/∂F_l,t = (1/N_l)·((dS_l + dS_lᵀ)·F_l,t + dμ_l·1ᵀ) — the same as
/// (1/N_l)·(2·sym(∂L/∂Σ_l)(F_l,t − μ_l1ᵀ) + ∂L/∂μ_l·1ᵀ) with the covariance's own gradients, since
/// dμ_l = ∂L/∂μ_l − 2·sym(∂L/∂Σ_l)·μ_l. Each style layer's <see cref="StyleTerm"/> keeps its sums and gradients.
/// So one evaluation is two passes over the tiles (<see cref="TileGrid"/>; halos from <see cref="ReceptiveField"/>):
/// <list type="number">
/// <item>forward each tile's crop (forward halo); from the activations of its own part, add to the Gram matrices and
/// the content sum;</item>
/// <item>forward each tile's crop again (gradient halo), seed its activations with the local gradients above (the
/// whole G_l is known now), run backward, and keep the input gradient of its own part.</item>
/// </list>
/// The total variation term and its gradient are computed on the whole image (3 channels: small). Only one tile's
/// activations are held at a time; the cost is the second forward pass and the halos' recomputation.
/// With masks, the guided Gram matrices (<see cref="GuidedStyleTerms"/>) are sums over positions too: pass 1 adds each
/// tile's own part, with each level's mask cut exactly like the activations; pass 2 seeds the crop's activations with
/// their local gradient, the mask cut for the crop. A mask on a style image (<see cref="StyleImageGrams"/>) is cut the
/// same way when that style's target is computed in tiles (<see cref="AddGrams"/>).
/// Test: tests/IlgpuStyle.Stylize.Tests/Stylize/TiledEvaluationTests.cs, TiledGuidedEvaluationTests.cs (tiled = untiled up to float rounding).
/// </summary>
public sealed class TiledEvaluation : IDisposable
{
    private readonly Vgg19 network;
    private readonly Tape tape;
    private readonly string[] layers;
    private readonly IReadOnlyList<(string Layer, Tensor Target, float Weight)> content;
    private readonly IReadOnlyList<StyleTerm> style;
    private readonly float tvWeight;
    private readonly Tensor contentLoss, styleLoss, tvLoss, term;
    private readonly GuidedStyleTerms? guided;
    private Shape4? lastCrop; // the crop shape the tape's pool holds tensors for, across both passes and evaluations

    internal TiledEvaluation(Vgg19 network, Tape tape, TileGrid grid, string[] layers,
        IReadOnlyList<(string Layer, Tensor Target, float Weight)> content,
        IReadOnlyList<StyleTerm> style, float tvWeight, GuidedStyleTerms? guided = null)
    {
        this.guided = guided;
        this.network = network;
        this.tape = tape;
        Grid = grid;
        this.layers = layers;
        this.content = content;
        this.style = style;
        this.tvWeight = tvWeight;
        var gpu = network.Gpu;
        try
        {
            foreach (var term in style) term.ClearSums(); // allocates the sums and their gradients
            contentLoss = gpu.Allocate(Shape4.Scalar);
            styleLoss = gpu.Allocate(Shape4.Scalar);
            tvLoss = gpu.Allocate(Shape4.Scalar);
            term = gpu.Allocate(Shape4.Scalar);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public TileGrid Grid { get; }

    /// <summary>Tiles worked through by one <see cref="Evaluate"/> (both passes).</summary>
    public int TilesPerEvaluation => 2 * Grid.Count;

    /// <summary>L(x) and ∇L(x) (into <paramref name="gradient"/>), as <see cref="GatysLoss.Evaluate"/>.</summary>
    public LossValues Evaluate(Tensor x, Tensor gradient, Action<int, int>? tileDone)
    {
        int done = 0;
        // Pass 1: the style statistics (Gram matrices or moments) and the content sum from every tile's own part.
        foreach (var term in style) term.ClearSums();
        guided?.ZeroGrams();
        contentLoss.Fill(0f);
        ForEachOwnedWindow(network, tape, x, Grid, layers, ref lastCrop, (layer, window, at) =>
        {
            foreach (var styleTerm in style.Where(t => t.Layer == layer))
                styleTerm.AddSums(window, Whole(layer), tape.Pool);
            guided?.AddGrams(tape.Pool, layer, window, at);
            foreach (var (_, target, weight) in content.Where(c => c.Layer == layer))
            {
                // weight · Σ_window (F − P)² / N: Losses.Mse averages over the window's n, so scale by n/N.
                var p = tape.Pool.Rent(window.Shape);
                Regions.Copy(target, at.Y, at.X, p, 0, 0, at.Height, at.Width);
                Losses.Mse(window, p, term, weight * window.Count / target.Count);
                Elementwise.Axpy(1f, term, contentLoss);
            }
        }, () => tileDone?.Invoke(++done, TilesPerEvaluation));

        // The whole-image terms: style losses from the summed statistics, their gradients (dG_l; dμ_l, dS_l), and TV.
        styleLoss.Fill(0f);
        foreach (var styleTerm in style)
        {
            styleTerm.LossFromSums(term);
            Elementwise.Axpy(1f, term, styleLoss);
        }
        guided?.LossAndGradients(styleLoss);
        TotalVariation.Forward(x, tvLoss, tvWeight);
        TotalVariation.Backward(x, gradient, tvWeight, accumulate: false);

        // Pass 2: each tile's activations seeded with their share of the gradient, backward, own part kept.
        foreach (var tile in Grid.Tiles(Grid.Halo.Gradient))
        {
            var crop = tile.Crop;
            var input = tape.Input(CutCrop(tape, x, crop, ref lastCrop));
            var features = network.Forward(tape, input, layers);
            var terms = new List<Variable>();
            foreach (var (layer, target, weight) in content)
            {
                var f = features[layer];
                int level = Vgg19.Level(layer);
                var p = tape.Pool.Rent(f.Shape);
                Regions.Copy(target, crop.Y >> level, crop.X >> level, p, 0, 0, f.Shape.H, f.Shape.W);
                float tileWeight = weight * f.Value.Count / target.Count;
                terms.Add(tape.ExternalGradient(f, (value, df, accumulate) => Losses.MseBackward(value, p, df, tileWeight, accumulate)));
            }
            foreach (var styleTerm in style)
            {
                var whole = Whole(styleTerm.Layer);
                terms.Add(tape.ExternalGradient(features[styleTerm.Layer], (value, df, accumulate) => styleTerm.TileGradient(value, df, whole, accumulate)));
            }
            foreach (var layer in layers)
                if (guided?.Seed(tape, layer, features[layer], crop.Y >> Vgg19.Level(layer), crop.X >> Vgg19.Level(layer)) is { } seed)
                    terms.Add(seed);
            tape.Backward(tape.Total([.. terms]));
            var core = tile.Core;
            Regions.Copy(input.Grad!, core.Y - crop.Y, core.X - crop.X, gradient, core.Y, core.X, core.Height, core.Width, accumulate: true);
            tileDone?.Invoke(++done, TilesPerEvaluation);
        }
        tape.Reset();

        float c = contentLoss.ToScalar(), s = styleLoss.ToScalar(), tv = tvLoss.ToScalar();
        return new LossValues(c, s, tv, c + s + tv);
    }

    /// <summary>The shape of <paramref name="layer"/>'s activation for the whole image.</summary>
    private Shape4 Whole(string layer) => Vgg19.ActivationShape(layer, Grid.Height, Grid.Width);

    /// <summary>
    /// The whole-image activation maps of <paramref name="wanted"/> layers for <paramref name="image"/>, assembled
    /// from the tiles' own parts (the content targets P_l). The caller owns the returned tensors.
    /// </summary>
    public static Dictionary<string, Tensor> FeatureMaps(Vgg19 network, Tape tape, Tensor image, TileGrid grid,
        IReadOnlyList<string> wanted)
    {
        var maps = new Dictionary<string, Tensor>();
        try
        {
            foreach (var layer in wanted)
                maps[layer] = network.Gpu.Allocate(Vgg19.ActivationShape(layer, grid.Height, grid.Width));
            Shape4? lastCrop = null;
            ForEachOwnedWindow(network, tape, image, grid, wanted, ref lastCrop, (layer, window, at) =>
                Regions.Copy(window, 0, 0, maps[layer], at.Y, at.X, at.Height, at.Width));
        }
        catch
        {
            foreach (var m in maps.Values) m.Dispose();
            throw;
        }
        return maps;
    }

    /// <summary>
    /// Every style term's target += blend(layer) · its statistic of <paramref name="image"/> (Gram matrix or moments),
    /// summed over the tiles' own parts and scaled by the whole layer's size.
    /// </summary>
    internal static void AddTargets(Vgg19 network, Tape tape, Tensor image, TileGrid grid, IReadOnlyList<StyleTerm> terms, Func<string, float> blend)
    {
        Shape4? lastCrop = null;
        ForEachOwnedWindow(network, tape, image, grid, terms.Select(t => t.Layer).Distinct().ToArray(), ref lastCrop, (layer, window, _) =>
        {
            foreach (var term in terms.Where(t => t.Layer == layer))
                term.AddTarget(window, Vgg19.ActivationShape(layer, grid.Height, grid.Width), blend(layer), tape.Pool);
        });
    }

    /// <summary>
    /// targets[l] += A_l(image) for every <paramref name="wanted"/> layer, summed over the tiles' own windows
    /// (<see cref="StyleImageGrams"/>: a style image's own Gram targets): without <paramref name="mask"/> the Gram
    /// matrix scaled by the whole layer's 1/(C·H·W); with it the guided Gram matrix over the mask, each window's mask
    /// cut at the same place as the window and scaled by the whole level's 1/(C·Σm²). Tiled = untiled up to rounding.
    /// </summary>
    internal static void AddGrams(Vgg19 network, Tape tape, Tensor image, TileGrid grid, IReadOnlyList<string> wanted,
        IReadOnlyDictionary<string, Tensor> targets, MaskPyramid? mask = null)
    {
        Shape4? lastCrop = null;
        ForEachOwnedWindow(network, tape, image, grid, wanted, ref lastCrop, (layer, window, at) =>
            StyleImageGrams.AddWindow(tape.Pool, layer, window, at, Vgg19.ActivationShape(layer, grid.Height, grid.Width), mask, targets[layer]));
    }

    /// <summary>
    /// Runs the network on every tile's crop (forward halo) and hands each wanted layer's activations of the tile's
    /// own part to <paramref name="use"/>: (layer, window C×h×w, where the window lies in the whole layer's map).
    /// A tile's own part at level k is rows [core.Y/2^k, core.Bottom/2^k) — to ⌊H/2^k⌋ for the last row of tiles — and
    /// the same for columns, so the windows partition every layer's map. Empty windows (a thin last core at a deep
    /// level) are skipped. The tape is reset before each tile and after the last.
    /// </summary>
    private static void ForEachOwnedWindow(Vgg19 network, Tape tape, Tensor image, TileGrid grid, IReadOnlyList<string> wanted,
        ref Shape4? lastCrop, Action<string, Tensor, PixelRect> use, Action? tileDone = null)
    {
        foreach (var tile in grid.Tiles(grid.Halo.Forward))
        {
            var crop = tile.Crop;
            var features = network.Forward(tape, tape.Constant(CutCrop(tape, image, crop, ref lastCrop)), wanted.ToArray());
            foreach (var layer in wanted)
            {
                var f = features[layer].Value;
                int k = Vgg19.Level(layer);
                int y0 = tile.Core.Y >> k, x0 = tile.Core.X >> k;
                int y1 = tile.Core.Bottom == grid.Height ? grid.Height >> k : tile.Core.Bottom >> k;
                int x1 = tile.Core.Right == grid.Width ? grid.Width >> k : tile.Core.Right >> k;
                if (y1 <= y0 || x1 <= x0) continue;
                var window = tape.Pool.Rent(Shape4.Image(f.Shape.C, y1 - y0, x1 - x0));
                Regions.Copy(f, y0 - (crop.Y >> k), x0 - (crop.X >> k), window, 0, 0, y1 - y0, x1 - x0);
                use(layer, window, new PixelRect(y0, x0, y1 - y0, x1 - x0));
            }
            tileDone?.Invoke();
        }
        tape.Reset();
    }

    /// <summary>
    /// Resets the tape and copies <paramref name="crop"/> of <paramref name="image"/> into a rented tensor. When the
    /// crop's shape differs from the last one cut on this tape (<paramref name="lastCrop"/>: the previous tile, also of
    /// the other pass), the pool's free tensors are released first, so the pool holds one crop shape's tensors at a
    /// time (edge tiles are smaller; the passes' halos differ) and the peak is one tile's, not the sum.
    /// </summary>
    private static Tensor CutCrop(Tape tape, Tensor image, PixelRect crop, ref Shape4? lastCrop)
    {
        var shape = Shape4.Image(image.Shape.C, crop.Height, crop.Width);
        tape.Reset();
        if (lastCrop is { } p && p != shape) tape.Pool.ReleaseFree();
        lastCrop = shape;
        var t = tape.Pool.Rent(shape);
        Regions.Copy(image, crop.Y, crop.X, t, 0, 0, crop.Height, crop.Width);
        return t;
    }

    public void Dispose()
    {
        contentLoss?.Dispose();
        styleLoss?.Dispose();
        tvLoss?.Dispose();
        term?.Dispose();
    }
}
