namespace IlgpuStyle.Network;

/// <summary>
/// How far a tile of the input must reach past the part it is responsible for, so that VGG19 run on the tile alone
/// gives exactly the activations, and backward exactly the gradient, of the network run on the whole image
/// (the tiled evaluation, IlgpuStyle.Stylize.Tiling). Derived from the layer list, not written down:
/// <list type="bullet">
/// <item><b>Alignment</b> 2^P for P poolings up to the deepest layer: a tile that starts at a multiple of 2^P meets
/// every 2×2 pooling window on the whole image's grid (level-k row i of the tile is level-k row y0/2^k + i of the
/// image), and a tile that ends at the image's end floors odd sizes the way the whole image does.</item>
/// <item><b>Forward halo</b>: a 3×3 convolution with zero padding makes the outermost row of its output wrong when the
/// tile's edge is not the image's (the zeros stand where image pixels are); each convolution moves the wrong band one
/// row further in, each pooling halves it (rounding the right way). After the deepest layer the band is
/// <c>lo</c> level-k rows on the left and <c>n − hi</c> on the right; in input pixels that is the forward halo: the
/// margin that makes every activation of the tile's own part exact (what the loss values and Gram sums need).</item>
/// <item><b>Gradient halo</b>: backward runs the same band inwards again. The gradient at a level-k position is exact
/// when every activation it is computed from is exact and receives an exact gradient: walking the layers backwards
/// from the exact region of the deepest layer, each convolution's transpose loses one more row per edge, each
/// pooling's doubles the region (and its window must be exact, for max pooling's choice). The margin left at the
/// input is the gradient halo — about twice the receptive-field radius (forward band + backward cone).</item>
/// </list>
/// Both halos are rounded up to the alignment, so a tile's crop (its own part ± halo) starts aligned.
/// For VGG19 up to relu5_1: alignment 16, forward halo 80, gradient halo 160 pixels (tests/IlgpuStyle.Stylize.Tests/Stylize/TilingTests.cs).
/// </summary>
public static class ReceptiveField
{
    /// <summary>The alignment and halos for a network that runs up to <paramref name="deepestLayer"/>.</summary>
    public static TileHalo For(string deepestLayer)
    {
        var steps = Steps(deepestLayer);
        int alignment = Vgg19.MinimumSide(deepestLayer);
        // A crop [0, n) both of whose edges lie inside the image, n a multiple of the alignment and far larger than
        // any band, so that the bands from the two edges never meet.
        int n = alignment * 256;
        var exactIn = new (int Lo, int Hi)[steps.Count];
        (int Lo, int Hi) exact = (0, n);
        int level = 0, forward = 0;
        for (int s = 0; s < steps.Count; s++)
        {
            exactIn[s] = exact;
            if (steps[s] == Step.Conv3x3) exact = (exact.Lo + 1, exact.Hi - 1);
            else
            {
                // Pooled position j reads 2j and 2j+1: exact iff both are.
                exact = (CeilHalf(exact.Lo), exact.Hi / 2);
                level++;
            }
            forward = Math.Max(forward, Math.Max(exact.Lo << level, n - (exact.Hi << level)));
        }
        var gradient = exact;
        for (int s = steps.Count - 1; s >= 0; s--)
        {
            // Conv transpose: input position q sums output positions q−1..q+1. Pool transpose: input q takes output q/2.
            gradient = steps[s] == Step.Conv3x3 ? (gradient.Lo + 1, gradient.Hi - 1) : (2 * gradient.Lo, 2 * gradient.Hi);
            gradient = (Math.Max(gradient.Lo, exactIn[s].Lo), Math.Min(gradient.Hi, exactIn[s].Hi));
        }
        int backward = Math.Max(gradient.Lo, n - gradient.Hi);
        return new TileHalo(alignment, RoundUp(forward, alignment), RoundUp(backward, alignment));
    }

    private enum Step { Conv3x3, Pool2x2 }

    private static List<Step> Steps(string deepestLayer)
    {
        var steps = new List<Step>();
        foreach (var name in Vgg19.LayerNames.Take(Vgg19.LayerIndex(deepestLayer) + 1))
        {
            if (name.StartsWith("conv", StringComparison.Ordinal)) steps.Add(Step.Conv3x3);
            else if (name.StartsWith("pool", StringComparison.Ordinal)) steps.Add(Step.Pool2x2);
        }
        return steps;
    }

    private static int CeilHalf(int v) => (v + 1) >> 1;

    private static int RoundUp(int v, int multiple) => (v + multiple - 1) / multiple * multiple;
}

/// <summary>
/// Tile geometry for a network (<see cref="ReceptiveField.For"/>): tiles start at multiples of <see cref="Alignment"/>;
/// <see cref="Forward"/> pixels of margin make the activations of a tile's own part exact, <see cref="Gradient"/>
/// pixels make its input gradient exact.
/// </summary>
public readonly record struct TileHalo(int Alignment, int Forward, int Gradient);
