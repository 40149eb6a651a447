using IlgpuStyle.Network.Weights;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuStyle.TorchReference;

/// <summary>The Gatys loss terms and the gradient w.r.t. the input pixels, as libtorch computes them.</summary>
public sealed record TorchLossResult(double Content, double Style, double Total, float[] Gradient);

/// <summary>
/// An independent VGG19 in libtorch (TorchSharp, CPU; float32 like ours, or float64 as a more exact reference), fed the same <see cref="VggWeights"/> as our
/// network: 3×3 convolutions with zero padding 1 (cross-correlation, as torch's conv2d), ReLU, 2×2 max pooling
/// with stride 2. The architecture (blocks of 2, 2, 4, 4, 4 layers) and the preprocessing are written here in
/// torch ops, not taken from our Vgg19 class, so that a mistake there cannot hide in both. Inputs are RGB images
/// in 0..1, planar (1×3×H×W, the layout of RgbImage.Data). Batch size 1. The one libtorch VGG19 of the project:
/// the oracle tests check our network against it, and bench/TorchBaseline (which links this file) times it.
/// libtorch's thread count is the caller's (torch.set_num_threads).
/// </summary>
public sealed class TorchVgg19 : IDisposable
{
    private static readonly int[] BlockLengths = [2, 2, 4, 4, 4];

    private readonly List<(string Conv, string Relu, string? Pool, Tensor Weight, Tensor Bias)> layers = new();
    private readonly Tensor channelIndex;   // input channel c of the network takes image channel channelIndex[c]
    private readonly Tensor mean;           // 1×3×1×1, network channel order
    private readonly Tensor std;            // 1×3×1×1
    private readonly double inputScale;

    /// <param name="dtype">float32 (the precision our network computes in) or float64.</param>
    public TorchVgg19(VggWeights weights, ScalarType dtype = ScalarType.Float32)
    {
        DType = dtype;
        var p = weights.Preprocessing;
        channelIndex = torch.tensor(p.ChannelOrder == ChannelOrder.BGR ? new long[] { 2, 1, 0 } : new long[] { 0, 1, 2 });
        mean = torch.tensor(p.Mean.ToArray(), new long[] { 1, 3, 1, 1 }).to(dtype);
        std = torch.tensor(p.Std.ToArray(), new long[] { 1, 3, 1, 1 }).to(dtype);
        inputScale = p.InputScale;
        for (int b = 1; b <= BlockLengths.Length; b++)
        for (int i = 1; i <= BlockLengths[b - 1]; i++)
        {
            var w = weights.Get($"conv{b}_{i}.weight");
            var bias = weights.Get($"conv{b}_{i}.bias");
            var wt = torch.tensor(w.Data, w.Dims.Select(d => (long)d).ToArray()).to(dtype);   // OIHW, as torch's conv2d wants
            var bt = torch.tensor(bias.Data, new long[] { bias.Data.Length }).to(dtype);
            layers.Add(($"conv{b}_{i}", $"relu{b}_{i}", i == BlockLengths[b - 1] ? $"pool{b}" : null, wt, bt));
        }
    }

    public ScalarType DType { get; }

    /// <summary>A 1×3×H×W tensor of <see cref="DType"/> holding a planar RGB image.</summary>
    public Tensor Image(float[] planarRgb, int height, int width) =>
        torch.tensor(planarRgb, new long[] { 1, 3, height, width }).to(DType);

    private static float[] ToHost(Tensor t) => t.to(ScalarType.Float32).data<float>().ToArray();

    /// <summary>RGB 0..1 → network input: reorder channels, scale, subtract the mean, divide by the std.</summary>
    public Tensor Preprocess(Tensor rgb01) => (rgb01.index_select(1, channelIndex) * inputScale - mean) / std;

    /// <summary>
    /// Runs the network on <paramref name="rgb01"/> up to the deepest of <paramref name="wanted"/>
    /// (convB_N, reluB_N, poolB) and returns those activations (tensors in the caller's dispose scope).
    /// </summary>
    public Dictionary<string, Tensor> Forward(Tensor rgb01, IReadOnlyCollection<string> wanted)
    {
        var found = new Dictionary<string, Tensor>();
        var h = Preprocess(rgb01);
        foreach (var (conv, relu, pool, w, b) in layers)
        {
            if (found.Count == wanted.Count) break;
            h = F.conv2d(h, w, b, strides: new long[] { 1, 1 }, padding: new long[] { 1, 1 });
            if (wanted.Contains(conv)) found[conv] = h;
            h = F.relu(h);
            if (wanted.Contains(relu)) found[relu] = h;
            if (pool is not null && found.Count < wanted.Count)
            {
                h = F.max_pool2d(h, new long[] { 2, 2 }, new long[] { 2, 2 });
                if (wanted.Contains(pool)) found[pool] = h;
            }
        }
        var missing = wanted.Where(n => !found.ContainsKey(n)).ToList();
        if (missing.Count > 0) throw new ArgumentException($"TorchVgg19: unknown layers {string.Join(", ", missing)}");
        return found;
    }

    /// <summary>Activations of <paramref name="image"/> at <paramref name="wanted"/>, copied to host arrays (NCHW).</summary>
    public Dictionary<string, float[]> Activations(float[] image, int height, int width, IReadOnlyCollection<string> wanted)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        return Forward(Image(image, height, width), wanted).ToDictionary(kv => kv.Key, kv => ToHost(kv.Value));
    }

    /// <summary>G = F Fᵀ / (C·H·W) with F the activation viewed as C × (H·W).</summary>
    public static Tensor Gram(Tensor f)
    {
        long c = f.shape[1], hw = f.shape[2] * f.shape[3];
        var m = f.reshape(c, hw);
        return m.mm(m.t()) / (double)(c * hw);
    }

    /// <summary>
    /// The Gatys loss of GatysLoss (without total variation) at <paramref name="x"/> and its gradient w.r.t. the
    /// pixels of x, by autograd:
    /// L(x) = α/|Lc| Σ ‖F_l(x) − F_l(content)‖² / ‖F_l(content)‖² + β/|Ls| Σ ‖G_l(x) − G_l(style)‖² / ‖G_l(style)‖².
    /// All images are planar RGB 0..1 of the same size.
    /// </summary>
    public TorchLossResult GatysLoss(float[] x, float[] content, float[] style, int height, int width,
        IReadOnlyList<string> contentLayers, IReadOnlyList<string> styleLayers, double alpha, double beta)
    {
        using var scope = torch.NewDisposeScope();
        Dictionary<string, Tensor> p, a;
        using (torch.no_grad())
        {
            p = Forward(Image(content, height, width), contentLayers.ToArray());
            a = Forward(Image(style, height, width), styleLayers.ToArray()).ToDictionary(kv => kv.Key, kv => Gram(kv.Value));
        }
        var xt = Image(x, height, width).requires_grad_();
        var f = Forward(xt, contentLayers.Concat(styleLayers).Distinct().ToArray());
        var contentLoss = torch.zeros(1, DType);
        foreach (var l in contentLayers)
            contentLoss = contentLoss + alpha / contentLayers.Count * (f[l] - p[l]).square().sum() / p[l].square().sum();
        var styleLoss = torch.zeros(1, DType);
        foreach (var l in styleLayers)
            styleLoss = styleLoss + beta / styleLayers.Count * (Gram(f[l]) - a[l]).square().sum() / a[l].square().sum();
        var total = contentLoss + styleLoss;
        total.backward();
        double Value(Tensor t) => t.to(ScalarType.Float64).item<double>();
        return new TorchLossResult(Value(contentLoss), Value(styleLoss), Value(total), ToHost(xt.grad!));
    }

    public void Dispose()
    {
        foreach (var l in layers)
        {
            l.Weight.Dispose();
            l.Bias.Dispose();
        }
        layers.Clear();
        channelIndex.Dispose();
        mean.Dispose();
        std.Dispose();
    }
}
