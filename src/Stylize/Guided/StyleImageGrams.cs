using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize.Guided;

/// <summary>
/// One style image's own Gram targets, over its mask on the style image when it has one (<see cref="StyleImage.ImageMask"/>,
/// the CLI's --style-image-mask; Gatys et al., CVPR 2017, §4: the style's statistics taken from a region of its image):
/// <code>
///   A_l = (F_l∘m_l)(F_l∘m_l)ᵀ / (C_l · Σ_p m_l(p)²)      with a mask (<see cref="GuidedGram"/>; m_l: <see cref="MaskPyramid"/>)
///   A_l = F_l F_lᵀ / (C_l · H_l·W_l)                      without
/// </code>
/// The normalisation is the output's guided Gram's (<see cref="GuidedStyleTerms"/>): A_l is the mean over the region,
/// and an all-white mask gives the unmasked target. Like every Gram matrix, A_l is a sum over positions: with a tile
/// grid each tile's own window adds its part, the mask cut at the same place (<see cref="TiledEvaluation.AddGrams"/>),
/// and the tiled target equals the untiled one up to float rounding. A layer the mask no longer reaches (a region at
/// an odd edge can vanish in the poolings' floors) has no statistics to give: its target stays 0 and it is listed in
/// <c>Unreached</c>, for the caller to leave out.
/// Test: tests/IlgpuStyle.Stylize.Tests/Stylize/StyleImageMaskTests.cs.
/// </summary>
internal static class StyleImageGrams
{
    /// <summary>
    /// A_l of <paramref name="image"/> for every layer of <paramref name="layers"/> (new tensors the caller owns, also
    /// those of unreached layers: zero), over <paramref name="mask"/> (at the image's size; null: the whole image), whole
    /// or in the tiles of <paramref name="grid"/> (null: untiled). Leaves the tape reset.
    /// </summary>
    public static (Dictionary<string, Tensor> Grams, HashSet<string> Unreached) Compute(Vgg19 network, Tape tape, Tensor image,
        GreyMask? mask, TileGrid? grid, IReadOnlyList<string> layers)
    {
        var grams = new Dictionary<string, Tensor>();
        var unreached = new HashSet<string>();
        MaskPyramid? pyramid = null;
        try
        {
            foreach (var layer in layers)
                if (!grams.ContainsKey(layer))
                {
                    grams[layer] = network.Gpu.Allocate(Gram.OutputShape(Shape4.Image(Vgg19.Channels(layer), 1, 1)));
                    grams[layer].Fill(0f);
                }
            if (mask is not null)
            {
                if (mask.Width != image.Shape.W || mask.Height != image.Shape.H)
                    throw new ArgumentException($"style image grams: a {mask.Width}×{mask.Height} mask for a {image.Shape.W}×{image.Shape.H} image.");
                pyramid = new MaskPyramid(network.Gpu, mask, grams.Keys.Max(Vgg19.Level));
                unreached.UnionWith(grams.Keys.Where(l => !pyramid.Reaches(Vgg19.Level(l))));
            }
            var wanted = grams.Keys.Where(l => !unreached.Contains(l)).ToArray();
            if (wanted.Length > 0)
            {
                if (grid is null)
                {
                    tape.Reset();
                    var features = network.Forward(tape, tape.Constant(image), wanted);
                    foreach (var layer in wanted)
                    {
                        var f = features[layer].Value;
                        AddWindow(tape.Pool, layer, f, new PixelRect(0, 0, f.Shape.H, f.Shape.W), f.Shape, pyramid, grams[layer]);
                    }
                }
                else TiledEvaluation.AddGrams(network, tape, image, grid, wanted, grams, pyramid);
            }
            tape.Reset();
            return (grams, unreached);
        }
        catch
        {
            foreach (var t in grams.Values) t.Dispose();
            throw;
        }
        finally
        {
            pyramid?.Dispose();
        }
    }

    /// <summary>
    /// target += the part of <paramref name="layer"/>'s A_l from <paramref name="window"/>, a window of the layer's map
    /// (whole shape <paramref name="whole"/>) at <paramref name="at"/>: scale·(W∘m)(W∘m)ᵀ with the mask cut at the same
    /// place and scale = 1/(C·Σm²) of the whole level, or without a mask W Wᵀ/(C·H·W). A window that is the whole map
    /// writes the (zero) target directly.
    /// </summary>
    public static void AddWindow(TensorPool pool, string layer, Tensor window, PixelRect at, Shape4 whole, MaskPyramid? mask, Tensor target)
    {
        bool all = at.Height == whole.H && at.Width == whole.W;
        var partial = all ? target : pool.Rent(target.Shape);
        if (mask is null) Gram.Forward(window, partial, GatysLoss.GramScale(whole));
        else GuidedGram.Forward(window, mask.Cut(pool, Vgg19.Level(layer), at), partial, mask.GramScale(layer), pool.Rent(window.Shape));
        if (!all) Elementwise.Axpy(1f, partial, target);
    }
}
