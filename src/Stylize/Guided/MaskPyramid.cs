using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Stylize.Guided;

/// <summary>
/// A mask on the device at every VGG19 level down to a depth, as the guided Gram matrices see it (Gatys et al., CVPR
/// 2017, §4): level 0 is the mask at the image's size, level k the 2×2 average pooling of level k−1 with VGG19's floor
/// for odd sizes — so level k has the shape of the layer maps after k poolings, and a position weighs the share of
/// its window inside the region. Also the mass Σ_p m_k(p)² of each level (the guided Gram's normalisation) and the
/// cut of a level for a tile's window. Used for the masks on the content (<see cref="GuidedStyleTerms"/>) and on the
/// style images (<see cref="StyleImageGrams"/>). Owns its tensors.
/// </summary>
internal sealed class MaskPyramid : IDisposable
{
    private readonly List<Tensor> levels = new();
    private readonly float[] mass;

    /// <param name="gpu">The device.</param>
    /// <param name="mask">The mask at the image's size.</param>
    /// <param name="deepest">The deepest level wanted (<see cref="Vgg19.Level"/> of the deepest layer).</param>
    public MaskPyramid(Gpu gpu, GreyMask mask, int deepest)
    {
        try
        {
            levels.Add(gpu.FromHost(Shape4.Image(1, mask.Height, mask.Width), mask.Data));
            for (int k = 1; k <= deepest; k++)
            {
                var next = gpu.Allocate(Pooling.OutputShape(levels[k - 1].Shape));
                levels.Add(next);
                Pooling.AvgForward(levels[k - 1], next);
            }
            using var scalar = gpu.Allocate(Shape4.Scalar);
            mass = levels.Select(t => Reduction.DotToHost(t, t, scalar)).ToArray();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The mask at <paramref name="level"/> (0 = image resolution): 1×1×(H&gt;&gt;level)×(W&gt;&gt;level).</summary>
    public Tensor this[int level] => levels[level];

    /// <summary>Σ_p m(p)² at <paramref name="level"/>.</summary>
    public float Mass(int level) => mass[level];

    /// <summary>Whether any weight is left at <paramref name="level"/> (a thin region at an odd edge can vanish in the floors).</summary>
    public bool Reaches(int level) => mass[level] > 1e-12f;

    /// <summary>The guided Gram scale of <paramref name="layer"/>'s whole map over this mask: 1/(C_l·Σ_p m_l(p)²).</summary>
    public float GramScale(string layer) => 1f / (Vgg19.Channels(layer) * mass[Vgg19.Level(layer)]);

    /// <summary>The window <paramref name="at"/> of <paramref name="level"/>'s map: the map itself when it is the whole map, else a copy rented from <paramref name="pool"/>.</summary>
    public Tensor Cut(TensorPool pool, int level, PixelRect at)
    {
        var map = levels[level];
        if (at.Y == 0 && at.X == 0 && at.Height == map.Shape.H && at.Width == map.Shape.W) return map;
        var cut = pool.Rent(Shape4.Image(1, at.Height, at.Width));
        Regions.Copy(map, at.Y, at.X, cut, 0, 0, at.Height, at.Width);
        return cut;
    }

    public void Dispose()
    {
        foreach (var t in levels) t.Dispose();
        levels.Clear();
    }
}
