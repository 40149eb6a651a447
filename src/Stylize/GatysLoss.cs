using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;

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
/// RGB image in 0..1. Each term is a relative squared error, so it is invariant to the network's input scale.
/// </summary>
public sealed class GatysLoss : IDisposable
{
    private readonly Vgg19 network;
    private readonly Tape tape;
    private readonly List<(string Layer, Tensor Target, float Weight)> content = new();
    private readonly List<(string Layer, Tensor Target, float Weight)> style = new();
    private readonly float tvWeight;
    private readonly string[] layers;

    public GatysLoss(Vgg19 network, Tensor contentImage, IReadOnlyList<(Tensor Image, float Blend)> styles,
        LossSettings o)
    {
        this.network = network;
        tape = new Tape(network.Gpu);
        layers = o.Layers.ToArray();
        var targets = new Dictionary<string, Tensor>();
        try
        {
            // Content targets P_l.
            var features = Features(contentImage, o.ContentLayers);
            foreach (var layer in o.ContentLayers)
            {
                var p = Keep(features[layer]);
                content.Add((layer, p, o.ContentWeight / o.ContentLayers.Count / MeanSquare(p)));
            }
            // Style targets A_l = Σ_k blend_k · Gram_l(style_k).
            foreach (var (image, blend) in styles)
            {
                var styleFeatures = Features(image, o.StyleLayers);
                foreach (var layer in o.StyleLayers)
                {
                    var f = styleFeatures[layer];
                    var gram = tape.Gram(f, GramScale(f.Shape)).Value;
                    if (!targets.TryGetValue(layer, out var a))
                    {
                        targets[layer] = a = network.Gpu.Allocate(gram.Shape);
                        a.Fill(0f);
                    }
                    Elementwise.Axpy(blend, gram, a);
                }
            }
            foreach (var layer in o.StyleLayers)
                style.Add((layer, targets[layer], o.StyleWeight / o.StyleLayers.Count / MeanSquare(targets[layer])));
            tvWeight = o.TvWeight / contentImage.Count;
        }
        catch
        {
            foreach (var t in targets.Values) t.Dispose(); // also those not yet in `style` (Dispose is idempotent)
            Dispose();
            throw;
        }
        tape.Reset();
    }

    /// <summary>Values of the last <see cref="Evaluate"/>.</summary>
    public LossValues Last { get; private set; }

    /// <summary>Evaluates L(x), writes ∇L(x) into <paramref name="gradient"/> and returns L (an Objective).</summary>
    public float Evaluate(Tensor x, Tensor gradient)
    {
        tape.Reset();
        var image = tape.Input(x);
        var features = network.Forward(tape, image, layers);
        var contentTerms = content.Select(c => tape.MseLoss(features[c.Layer], c.Target, c.Weight)).ToArray();
        var styleTerms = style.Select(s =>
        {
            var f = features[s.Layer];
            return tape.MseLoss(tape.Gram(f, GramScale(f.Shape)), s.Target, s.Weight);
        }).ToArray();
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

    private static float GramScale(Shape4 f) => 1f / f.Count;

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
        tape.Dispose();
        foreach (var (_, t, _) in content) t.Dispose();
        foreach (var (_, t, _) in style) t.Dispose();
    }
}
