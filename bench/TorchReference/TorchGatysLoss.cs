using IlgpuStyle.Stylize;
using static TorchSharp.torch;

namespace IlgpuStyle.TorchReference;

/// <summary>
/// <see cref="GatysLoss"/>'s objective in libtorch, term by term the same formulas:
/// <code>
///   L(x) = α/|Lc| · Σ mean((F_l − P_l)²) / mean(P_l²)
///        + β/|Ls| · Σ mean((G_l − A_l)²) / mean(A_l²),   G_l = F_l F_lᵀ / (C_l·H_l·W_l)
///        + γ/(3·H·W) · Σ (x[c,i,j+1]−x[c,i,j])² + (x[c,i+1,j]−x[c,i,j])²
/// </code>
/// with the targets P_l (content) and A_l (style Gram matrices) computed once, without gradient.
/// </summary>
public sealed class TorchGatysLoss : IDisposable
{
    private readonly TorchVgg19 network;
    private readonly string[] layers;
    private readonly List<(string Layer, Tensor Target, double Weight)> content = new();
    private readonly List<(string Layer, Tensor Target, double Weight)> style = new();
    private readonly double tvWeight;

    public TorchGatysLoss(TorchVgg19 network, Tensor contentImage, Tensor styleImage, LossSettings o)
    {
        this.network = network;
        layers = o.Layers.ToArray();
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var fc = network.Forward(contentImage, o.ContentLayers.ToArray());
            foreach (var layer in o.ContentLayers)
            {
                var p = fc[layer].clone().DetachFromDisposeScope();
                content.Add((layer, p, o.ContentWeight / o.ContentLayers.Count / MeanSquare(p)));
            }
            var fs = network.Forward(styleImage, o.StyleLayers.ToArray());
            foreach (var layer in o.StyleLayers)
            {
                var a = TorchVgg19.Gram(fs[layer]).DetachFromDisposeScope();
                style.Add((layer, a, o.StyleWeight / o.StyleLayers.Count / MeanSquare(a)));
            }
        }
        tvWeight = o.TvWeight / (double)contentImage.numel();
    }

    /// <summary>The loss terms as tensors (the total carries the graph for backward).</summary>
    public (Tensor Total, Tensor Content, Tensor Style, Tensor Tv) Forward(Tensor x)
    {
        var features = network.Forward(x, layers);
        Tensor? contentTerm = null, styleTerm = null;
        foreach (var (layer, target, weight) in content)
        {
            var t = (features[layer] - target).square().mean() * weight;
            contentTerm = contentTerm is null ? t : contentTerm + t;
        }
        foreach (var (layer, target, weight) in style)
        {
            var t = (TorchVgg19.Gram(features[layer]) - target).square().mean() * weight;
            styleTerm = styleTerm is null ? t : styleTerm + t;
        }
        long h = x.shape[2], w = x.shape[3];
        var dxw = x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1);
        var dyh = x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1);
        var tv = (dxw.square().sum() + dyh.square().sum()) * tvWeight;
        return (contentTerm! + styleTerm! + tv, contentTerm!, styleTerm!, tv);
    }

    private static double MeanSquare(Tensor t) => Math.Max(t.square().mean().to(ScalarType.Float64).item<double>(), 1e-12);

    public void Dispose()
    {
        foreach (var (_, t, _) in content) t.Dispose();
        foreach (var (_, t, _) in style) t.Dispose();
    }
}
