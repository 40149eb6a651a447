using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace IlgpuStyle.TorchBaseline;

/// <summary>
/// VGG19's features in libtorch, computed exactly as <see cref="Vgg19"/> does: the weights' preprocessing as a
/// channel affine map x_net[c] = x[src(c)]·mul[c] + add[c] (<see cref="Vgg19.InputCoefficients"/>), then
/// conv 3×3 (stride 1, pad 1) + bias + ReLU per layer, 2×2 max pooling (stride 2, floor) after each block, up to
/// the deepest wanted layer. Input: 1×3×H×W RGB in 0..1, of the network's <see cref="DType"/> (float32 for the
/// timings; float64 as the reference for how far two float32 implementations may disagree).
/// </summary>
public sealed class TorchVgg : IDisposable
{
    private readonly List<(ConvLayerSpec Spec, Tensor Weight, Tensor Bias)> layers = new();
    private readonly Tensor sourceChannels;
    private readonly Tensor mul;
    private readonly Tensor add;

    public TorchVgg(VggWeights weights, string deepestLayer, ScalarType dtype = ScalarType.Float32)
    {
        DType = dtype;
        int deepest = Vgg19.LayerIndex(deepestLayer);
        foreach (var spec in Vgg19Layout.ConvLayers)
        {
            if (Vgg19.LayerIndex(spec.Name) > deepest) break;
            var w = weights.Weight(spec);
            var b = weights.Bias(spec);
            layers.Add((spec, tensor(w.Data, [spec.Cout, spec.Cin, 3, 3]).to(dtype), tensor(b.Data, [spec.Cout]).to(dtype)));
        }
        var k = Vgg19.InputCoefficients(weights.Preprocessing);
        sourceChannels = tensor(new long[] { k.Src0, k.Src1, k.Src2 });
        mul = tensor(new[] { k.Mul0, k.Mul1, k.Mul2 }, [1, 3, 1, 1]).to(dtype);
        add = tensor(new[] { k.Add0, k.Add1, k.Add2 }, [1, 3, 1, 1]).to(dtype);
    }

    public ScalarType DType { get; }

    /// <summary>The activations named in <paramref name="wanted"/> (reluB_N, convB_N, poolB).</summary>
    public Dictionary<string, Tensor> Forward(Tensor image, IReadOnlyCollection<string> wanted)
    {
        int deepest = wanted.Select(Vgg19.LayerIndex).Max();
        var found = new Dictionary<string, Tensor>();
        var h = image.index_select(1, sourceChannels) * mul + add;
        foreach (var (spec, weight, bias) in layers)
        {
            if (Vgg19.LayerIndex(spec.Name) > deepest) break;
            h = F.conv2d(h, weight, bias, padding: [1, 1]);
            if (wanted.Contains(spec.Name)) found[spec.Name] = h;
            h = F.relu(h);
            string relu = $"relu{spec.Block}_{spec.Index}";
            if (wanted.Contains(relu)) found[relu] = h;
            string pool = $"pool{spec.Block}";
            if (spec.PoolAfter && Vgg19.LayerIndex(pool) <= deepest)
            {
                h = F.max_pool2d(h, 2, 2);
                if (wanted.Contains(pool)) found[pool] = h;
            }
        }
        return found;
    }

    public void Dispose()
    {
        foreach (var (_, w, b) in layers)
        {
            w.Dispose();
            b.Dispose();
        }
        sourceChannels.Dispose();
        mul.Dispose();
        add.Dispose();
    }
}
