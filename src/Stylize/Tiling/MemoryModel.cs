using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize.Tiling;

/// <summary>
/// Device bytes a scale of a stylization allocates, from sizes alone (what the <see cref="MemoryPlanner"/> plans
/// with). It mirrors what the code rents — each line names the code — and is checked against measured peaks
/// (tests/IlgpuStyle.Stylize.Tests/Stylize/MemoryPlannerTests.cs): it must not be below them.
/// </summary>
public static class MemoryModel
{
    private const long Float = sizeof(float);

    /// <summary>
    /// Floats <see cref="Vgg19.Forward"/> rents on the tape for an <paramref name="h"/>×<paramref name="w"/> input up
    /// to <paramref name="deepest"/>: the preprocessed input, every conv output (plus a separate ReLU output when the
    /// pre-activation convB_N itself is wanted), every pooling output.
    /// </summary>
    public static long ForwardFloats(int h, int w, string deepest, IReadOnlyCollection<string> wanted)
    {
        long floats = 3L * h * w; // channel affine
        foreach (var name in Vgg19.LayerNames.Take(Vgg19.LayerIndex(deepest) + 1))
        {
            bool conv = name.StartsWith("conv", StringComparison.Ordinal), pool = name.StartsWith("pool", StringComparison.Ordinal);
            if (!conv && !pool) continue;
            long size = Vgg19.ActivationShape(name, h, w).Count;
            floats += conv && wanted.Contains(name) ? 2 * size : size;
        }
        return floats;
    }

    /// <summary>Floats of the wanted layers' activations (the windows a tiled pass cuts out, the content targets).</summary>
    public static long LayerFloats(int h, int w, IEnumerable<string> layers) =>
        layers.Sum(l => (long)Vgg19.ActivationShape(l, h, w).Count);

    /// <summary>
    /// The 3×3 convolutions' scratch (one buffer per kind that grows to the largest layer): the zero-padded copy of the
    /// input — the register-blocked kernel's, C_in·(h+2)·(w rounded up to 8 pixels × a group of at most 16, + 2), or
    /// Winograd's parity-split one — and Winograd's V and M of one chunk of tile rows (Conv2d.WinogradScratchFloats).
    /// Counted for every layer whichever kernel the plan runs (an upper bound; Winograd's is ≤ 2 × 16 MiB + its padding).
    /// </summary>
    public static long PaddedFloats(int h, int w, string deepest)
    {
        long padded = 0, transformed = 0;
        foreach (var spec in Network.Weights.Vgg19Layout.ConvLayers.TakeWhile(s => Vgg19.LayerIndex(s.Name) <= Vgg19.LayerIndex(deepest)))
        {
            var a = Vgg19.ActivationShape(spec.Name, h, w);
            int blocks = (a.W + 7) / 8, group = Math.Min(16, blocks);
            long wp = (long)(blocks + group - 1) / group * group * 8 + 2;
            var winograd = Conv2d.WinogradScratchFloats(spec.Cin, spec.Cout, a.H, a.W);
            padded = Math.Max(padded, Math.Max(Math.Max(spec.Cin, spec.Cout) * (a.H + 2L) * wp, winograd.Padded));
            transformed = Math.Max(transformed, winograd.Transformed);
        }
        return padded + 2 * transformed;
    }

    /// <summary>
    /// The Gram kernels' split-K partial sums (Gram.SplitCount; one buffer that grows to the largest): at most 2²² floats,
    /// and at most C²·⌈P/32⌉ for a layer of P = H·W positions (a split covers ≥ 4 column tiles of ≥ 8 positions).
    /// </summary>
    public static long GramPartialFloats(int h, int w, LossSettings loss) =>
        loss.StyleLayers.Select(l =>
        {
            var a = Vgg19.ActivationShape(l, h, w);
            return Math.Min(1L << 22, (long)a.C * a.C * Math.Max(1, (a.Plane + 31) / 32));
        }).DefaultIfEmpty(0).Max();

    /// <summary>
    /// One style statistic of every style layer, as computed or summed: a Gram matrix C_l², or for meancov the raw
    /// moments C_l² + C_l (Moments; also the GaussianW2 loss's gradients, as many).
    /// </summary>
    public static long GramFloats(LossSettings loss) => loss.StyleLayers.Sum(l =>
    {
        long c = Vgg19.Channels(l);
        return loss.StyleLoss == StyleLossKind.MeanCov ? c * c + c : c * c;
    });

    /// <summary>What the style terms keep (StyleTerm.KeptFloats): targets, and when tiled the sums and their gradients.</summary>
    public static long StyleKeptFloats(LossSettings loss, bool tiled) =>
        loss.StyleLayers.Sum(l => StyleTerm.KeptFloats(loss.StyleLoss, Vgg19.Channels(l), tiled));

    /// <summary>The meancov loss's scratch matrices (GaussianW2 and NewtonSchulz; kept by the Gpu), one set per channel count.</summary>
    public static long StyleScratchFloats(LossSettings loss) => loss.StyleLoss != StyleLossKind.MeanCov ? 0
        : loss.StyleLayers.Select(Vgg19.Channels).Distinct().Sum(GaussianW2.ScratchFloats) + 64;

    /// <summary>
    /// Bytes one evaluation rents (GatysLoss.Evaluate) for the whole <paramref name="h"/>×<paramref name="w"/> image:
    /// the forward activations, a gradient for each of them and for the image, the Gram matrices (or moments) and their
    /// gradients, the TV scratch (one image), the padded-input scratch, the Gram split-K partials, the meancov scratch.
    /// </summary>
    public static long UntiledEvaluationBytes(int h, int w, string deepest, LossSettings loss)
    {
        long image = 3L * h * w;
        return Float * (2 * ForwardFloats(h, w, deepest, loss.Layers) + image + 2 * GramFloats(loss) + image
                        + PaddedFloats(h, w, deepest) + GramPartialFloats(h, w, loss) + StyleScratchFloats(loss));
    }

    /// <summary>
    /// Bytes a tiled evaluation rents for its largest crops (TiledEvaluation.Evaluate), the larger of its two passes:
    /// pass 1 — the crop, its activations, the windows of the wanted layers, the content targets' windows, Gram partials;
    /// pass 2 — the crop, its activations and their gradients, the crop's gradient, the content targets' windows.
    /// Plus the scratch: padded input of the larger crop, Gram partials, TV (one whole image).
    /// </summary>
    public static long TiledEvaluationBytes(TileGrid grid, string deepest, LossSettings loss)
    {
        var (h1, w1) = grid.LargestCrop(grid.Halo.Forward);
        var (h2, w2) = grid.LargestCrop(grid.Halo.Gradient);
        long pass1 = 3L * h1 * w1 + ForwardFloats(h1, w1, deepest, loss.Layers) + LayerFloats(h1, w1, loss.Layers)
                     + LayerFloats(h1, w1, loss.ContentLayers) + GramFloats(loss);
        long pass2 = 3L * h2 * w2 * 2 + 2 * ForwardFloats(h2, w2, deepest, loss.Layers) + LayerFloats(h2, w2, loss.ContentLayers);
        return Float * (Math.Max(pass1, pass2) + PaddedFloats(h2, w2, deepest) + GramPartialFloats(h1, w1, loss) + 3L * grid.Height * grid.Width
                        + StyleScratchFloats(loss));
    }

    /// <summary>
    /// Bytes the targets take while they are computed (GatysLoss's constructor), before the optimizer exists: the
    /// content and style images, the content targets P_l, the Gram targets, and the forward activations of the
    /// largest image (or crop) the network reads, with the windows cut from them when tiled. With
    /// <paramref name="maskedStyleImages"/> masks on style images (StyleImageGrams), also those styles' own Gram targets
    /// (kept until the blend is made), and beside a style image's forward pass its mask at every level, the masked copy
    /// of each style layer's activations (or window), a partial Gram and the windows' mask cuts (counted for every style
    /// image: an upper bound).
    /// </summary>
    public static long TargetBytes(int width, int height, IReadOnlyList<(int Width, int Height)> styles, string deepest,
        LossSettings loss, int? maxTileSide, int maskedStyleImages = 0)
    {
        var halo = ReceptiveField.For(deepest);
        long images = 3L * width * height + styles.Sum(s => 3L * s.Width * s.Height);
        long forward = 0, partials = 0;
        bool first = true; // the content image's pass; the others are the style images'
        foreach (var (w, h, layers) in styles.Select(s => (s.Width, s.Height, loss.StyleLayers)).Prepend((width, height, loss.ContentLayers)))
        {
            var grid = maxTileSide is int side ? TileGrid.Create(w, h, side, halo) : null;
            var (ch, cw) = grid is null || grid.Single ? (h, w) : grid.LargestCrop(halo.Forward);
            long crop = grid is null || grid.Single ? 0 : 3L * ch * cw;
            long masked = first || maskedStyleImages == 0 ? 0
                : MaskPlanes(h, w, loss) + LayerFloats(ch, cw, loss.StyleLayers) + GramFloats(loss) + MaskCuts(ch, cw, loss);
            first = false;
            forward = Math.Max(forward, crop + ForwardFloats(ch, cw, deepest, layers) + LayerFloats(ch, cw, layers)
                                        + PaddedFloats(ch, cw, deepest) + GramFloats(loss) + masked);
            partials = Math.Max(partials, GramPartialFloats(ch, cw, loss));
        }
        return Float * (images + LayerFloats(height, width, loss.ContentLayers) + StyleKeptFloats(loss, tiled: false) + GramFloats(loss)
                        + maskedStyleImages * GramFloats(loss) + forward + partials + StyleScratchFloats(loss));
    }

    /// <summary>A mask at every level down to the deepest style layer (MaskPyramid) for an <paramref name="h"/>×<paramref name="w"/> image.</summary>
    private static long MaskPlanes(int h, int w, LossSettings loss) =>
        Enumerable.Range(0, loss.StyleLayers.Max(Vgg19.Level) + 1).Sum(l => (long)(h >> l) * (w >> l));

    /// <summary>One mask's cuts for the style layers' windows of an <paramref name="h"/>×<paramref name="w"/> crop.</summary>
    private static long MaskCuts(int h, int w, LossSettings loss) =>
        loss.StyleLayers.Sum(l => (long)(h >> Vgg19.Level(l)) * (w >> Vgg19.Level(l)));

    /// <summary>
    /// Bytes spatial control adds for <paramref name="maskedStyles"/> styles with masks (GuidedStyleTerms; 0 without
    /// masks): each style's mask at every level down to the deepest style layer, its own Gram targets (K − 1 more sets
    /// than unmasked) and the output's G and dG; and per evaluation, untiled, the masked copy of each style layer's
    /// activations (AddGrams; the backward reuses it), tiled, the larger of pass 1 (the windows' masked copies, a partial
    /// Gram per layer, the mask cuts) and pass 2 (each style layer's Gram-gradient scratch, the crop's mask cuts).
    /// </summary>
    public static long GuidedBytes(int width, int height, TileGrid? grid, LossSettings loss, int maskedStyles)
    {
        if (maskedStyles == 0) return 0;
        long k = maskedStyles;
        long persistent = k * MaskPlanes(height, width, loss) + (k - 1) * GramFloats(loss) + 2 * k * GramFloats(loss);
        long evaluation;
        if (grid is null) evaluation = LayerFloats(height, width, loss.StyleLayers);
        else
        {
            var (h1, w1) = grid.LargestCrop(grid.Halo.Forward);
            var (h2, w2) = grid.LargestCrop(grid.Halo.Gradient);
            evaluation = Math.Max(LayerFloats(h1, w1, loss.StyleLayers) + GramFloats(loss) + k * MaskCuts(h1, w1, loss),
                                  LayerFloats(h2, w2, loss.StyleLayers) + k * MaskCuts(h2, w2, loss));
        }
        return Float * (persistent + evaluation);
    }

    /// <summary>
    /// Bytes the optimization keeps for a scale besides the evaluation: x and the best iterate (Stylizer), the
    /// content targets P_l and Gram targets A_l (GatysLoss; plus the summed Grams and their gradients when tiled), and the
    /// optimizer's state (the style terms: <see cref="StyleKeptFloats"/>) — L-BFGS: 2·history + 10 image-sized tensors (Lbfgs: s, y; ŝ, ŷ, direction, gradient, previous
    /// gradient, a scalar work vector, 4 for the line search; and the partial sums and coefficients of its vector-free two
    /// loops, <see cref="IlgpuStyle.Autodiff.Optimizers.Lbfgs.TwoLoopScratchFloats"/>: at most 1.3 MB at history 100, half a 512×384 image); Adam: m, v, the gradient and the iterate average
    /// (--average-decay; counted always).
    /// </summary>
    public static long StateBytes(int width, int height, LossSettings loss, OptimizerKind optimizer, int history, bool tiled)
    {
        long image = 3L * width * height;
        long optimizerImages = optimizer == OptimizerKind.Lbfgs ? 2L * history + 10 : 4;
        long twoLoops = optimizer == OptimizerKind.Lbfgs
            ? IlgpuStyle.Autodiff.Optimizers.Lbfgs.TwoLoopScratchFloats((int)Math.Min(image, int.MaxValue), history)
            : 0;
        return Float * ((2 + optimizerImages) * image + twoLoops + LayerFloats(height, width, loss.ContentLayers)
                        + StyleKeptFloats(loss, tiled) + 64);
    }
}
