using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Network;

/// <summary>
/// VGG19's convolutional features (conv1_1 … conv5_4, each followed by ReLU, a 2×2 pooling closing each block),
/// built from our kernels and recorded on a <see cref="Tape"/>. Layers are addressed by their usual names:
/// convB_N (before ReLU), reluB_N, poolB. The network is truncated after the deepest layer a run needs, and
/// only those weights are uploaded. Its input is an RGB image with values in 0..1; the preprocessing the
/// weights expect (channel order, scale, mean, std) comes from the weights file and is applied as the first op.
/// </summary>
public sealed class Vgg19 : IDisposable
{
    private readonly List<(ConvLayerSpec Spec, Tensor Weight, PreparedConv3x3 Prepared, Tensor Bias)> layers = new();

    /// <summary>Every addressable layer name, in network order.</summary>
    public static readonly IReadOnlyList<string> LayerNames = BuildLayerNames();

    public Vgg19(Gpu gpu, VggWeights weights, PoolingKind pooling, IEnumerable<string> neededLayers)
    {
        Gpu = gpu;
        Pooling = pooling;
        int deepest = neededLayers.Select(LayerIndex).DefaultIfEmpty(-1).Max();
        if (deepest < 0) throw new ArgumentException("VGG19: no layer requested.");
        DeepestLayer = LayerNames[deepest];
        Input = InputCoefficients(weights.Preprocessing);
        try
        {
            foreach (var spec in Vgg19Layout.ConvLayers)
            {
                if (LayerIndex(spec.Name) > deepest) break;
                var w = weights.Weight(spec);
                var b = weights.Bias(spec);
                ShapeCheck.Equal($"VGG19 {spec.Name}", "weight", w.Shape, spec.WeightShape);
                ShapeCheck.Equal($"VGG19 {spec.Name}", "bias", b.Shape, spec.BiasShape);
                var weight = gpu.FromHost(w.Shape, w.Data);
                layers.Add((spec, weight, Kernels.Conv2d.Prepare3x3(weight), gpu.FromHost(b.Shape, b.Data)));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Gpu Gpu { get; }
    public PoolingKind Pooling { get; }

    /// <summary>The deepest layer this instance can compute.</summary>
    public string DeepestLayer { get; }

    /// <summary>Whether <paramref name="layer"/> is within <see cref="DeepestLayer"/> (an unknown name throws).</summary>
    public bool Computes(string layer) => LayerIndex(layer) <= LayerIndex(DeepestLayer);

    /// <summary>
    /// The smallest image side the network accepts up to <paramref name="layer"/>: every 2×2 pooling before it
    /// needs an input at least 2 pixels wide, so k poolings need 2^k pixels.
    /// </summary>
    public static int MinimumSide(string layer)
    {
        // pool_k itself and every layer after it need an input image of 2^k pixels (pool_k's input is then ≥ 2).
        return 1 << Level(layer);
    }

    /// <summary>
    /// Number of 2×2 poolings up to and including <paramref name="layer"/>: its activation is ⌊H/2^level⌋ × ⌊W/2^level⌋
    /// for an H×W input (repeated floors of halves are the floor of the quotient).
    /// </summary>
    public static int Level(string layer) =>
        LayerNames.Take(LayerIndex(layer) + 1).Count(n => n.StartsWith("pool", StringComparison.Ordinal));

    /// <summary>Channels of <paramref name="layer"/>'s activation.</summary>
    public static int Channels(string layer)
    {
        int index = LayerIndex(layer);
        return Vgg19Layout.ConvLayers.Last(spec => LayerIndex(spec.Name) <= index).Cout;
    }

    /// <summary>Shape of <paramref name="layer"/>'s activation for a <paramref name="height"/> × <paramref name="width"/> input.</summary>
    public static Shape4 ActivationShape(string layer, int height, int width)
    {
        int level = Level(layer);
        return Shape4.Image(Channels(layer), height >> level, width >> level);
    }

    /// <summary>RGB 0..1 → network input, as a channel affine map.</summary>
    public ChannelAffine.Coefficients Input { get; }

    /// <summary>
    /// Runs the network on <paramref name="image"/> (1×3×H×W, RGB, 0..1) up to the deepest of
    /// <paramref name="wanted"/> and returns those activations.
    /// </summary>
    public IReadOnlyDictionary<string, Variable> Forward(Tape tape, Variable image, IReadOnlyCollection<string> wanted)
    {
        if (image.Shape.C != 3 || image.Shape.N != 1)
            throw new ArgumentException($"VGG19: input has shape {image.Shape}; 1×3×H×W (RGB) is required.");
        int deepest = wanted.Select(LayerIndex).DefaultIfEmpty(-1).Max();
        if (deepest > LayerIndex(DeepestLayer))
            throw new ArgumentException($"VGG19: layer {LayerNames[deepest]} is deeper than {DeepestLayer}, the deepest layer this network was built for.");
        var found = new Dictionary<string, Variable>();
        var h = tape.ChannelAffine(image, Input);
        foreach (var (spec, _, weight, bias) in layers)
        {
            if (LayerIndex(spec.Name) > deepest) break;
            if (wanted.Contains(spec.Name))
            {
                // The pre-activation is wanted: run conv and ReLU separately.
                h = tape.Conv2d(h, weight, bias, relu: false);
                found[spec.Name] = h;
                h = tape.Relu(h);
            }
            else
            {
                h = tape.Conv2d(h, weight, bias, relu: true);
            }
            string relu = $"relu{spec.Block}_{spec.Index}";
            if (wanted.Contains(relu)) found[relu] = h;
            if (spec.PoolAfter && LayerIndex($"pool{spec.Block}") <= deepest)
            {
                if (h.Shape.H < 2 || h.Shape.W < 2)
                    throw new ArgumentException($"VGG19: the image is too small for pool{spec.Block} (activation {h.Shape}); use a larger size.");
                h = tape.Pool2x2(h, Pooling);
                if (wanted.Contains($"pool{spec.Block}")) found[$"pool{spec.Block}"] = h;
            }
        }
        return found;
    }

    /// <summary>Position of <paramref name="name"/> in <see cref="LayerNames"/>; a clear error for unknown names.</summary>
    public static int LayerIndex(string name)
    {
        for (int i = 0; i < LayerNames.Count; i++)
            if (LayerNames[i] == name) return i;
        throw new UnknownLayerException(name);
    }

    /// <summary>
    /// x_net[c] = (p[src(c)] · scale − mean[c]) / std[c], with src(c) = 2 − c for BGR networks.
    /// </summary>
    public static ChannelAffine.Coefficients InputCoefficients(Preprocessing p)
    {
        int Src(int c) => p.ChannelOrder == ChannelOrder.BGR ? 2 - c : c;
        float Mul(int c) => p.InputScale / p.Std[c];
        float Add(int c) => -p.Mean[c] / p.Std[c];
        return new(Src(0), Src(1), Src(2), Mul(0), Mul(1), Mul(2), Add(0), Add(1), Add(2));
    }

    private static List<string> BuildLayerNames()
    {
        var names = new List<string>();
        foreach (var spec in Vgg19Layout.ConvLayers)
        {
            names.Add(spec.Name);
            names.Add($"relu{spec.Block}_{spec.Index}");
            if (spec.PoolAfter) names.Add($"pool{spec.Block}");
        }
        return names;
    }

    public void Dispose()
    {
        foreach (var (_, w, prepared, b) in layers)
        {
            prepared.Dispose();
            w.Dispose();
            b.Dispose();
        }
        layers.Clear();
    }
}

/// <summary>A layer name that VGG19 does not have.</summary>
public sealed class UnknownLayerException(string name)
    : ArgumentException($"unknown layer '{name}': VGG19 layers are convB_N, reluB_N (B = 1..5, N = 1..2 for B ≤ 2, 1..4 otherwise) and pool1..pool5.")
{
    public string LayerName { get; } = name;
}
