using IlgpuStyle.Network;

namespace IlgpuStyle.Stylize;

/// <summary>
/// What the style term matches at each style layer: <see cref="Gram"/>, the Gram matrices (Gatys et al.); or
/// <see cref="MeanCov"/>, the features' mean and covariance by the 2-Wasserstein distance between Gaussians
/// (Kolkin et al.; crowsonkb/style-transfer-pytorch's default). See <see cref="MeanCovStyleTerm"/>.
/// </summary>
public enum StyleLossKind { Gram, MeanCov }

/// <summary>
/// What the Gatys objective measures (<see cref="GatysLoss"/>): which VGG19 layers carry content and style, and the
/// weights α (content), β (style), γ (total variation). Defaults are the CLI's.
/// </summary>
public sealed record LossSettings
{
    public IReadOnlyList<string> ContentLayers { get; init; } = ["relu4_2"];
    public IReadOnlyList<string> StyleLayers { get; init; } = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
    /// <summary>
    /// α. Unless set, it depends on <see cref="StyleLoss"/> (<see cref="DefaultContentWeight"/>): 5 with gram, 25 with
    /// meancov, whose term pulls harder at the same β (see README, "Style loss").
    /// </summary>
    public float ContentWeight
    {
        get => contentWeight ?? DefaultContentWeight(StyleLoss);
        init => contentWeight = value;
    }
    private readonly float? contentWeight;
    public float StyleWeight { get; init; } = 100f;
    public float TvWeight { get; init; } = 1f;
    /// <summary>The style term (the CLI's --style-loss gram|meancov).</summary>
    public StyleLossKind StyleLoss { get; init; } = StyleLossKind.Gram;

    /// <summary>
    /// α when none is given: 5 with gram; 25 with meancov. At the same weights meancov's term outweighs the content:
    /// tubingen × starry night at 256 px with α = 5 ended at a relative content error ‖F − P‖²/‖P‖² of 1.11 (the
    /// painting's layout, the photo gone) against 0.76 with gram; α = 25 keeps the photo (README, "Style loss").
    /// </summary>
    public static float DefaultContentWeight(StyleLossKind styleLoss) => styleLoss == StyleLossKind.MeanCov ? 25f : 5f;

    /// <summary>Every layer the loss reads (content first, then style, each once): what the network must compute.</summary>
    public IReadOnlyList<string> Layers => ContentLayers.Concat(StyleLayers).Distinct().ToArray();

    /// <summary>Checks that need no file or device; throws <see cref="StylizeUsageException"/> or <see cref="UnknownLayerException"/>.</summary>
    public void Validate()
    {
        if (ContentLayers.Count == 0 || StyleLayers.Count == 0)
            throw new StylizeUsageException("--content-layers and --style-layers must name at least one layer each.");
        foreach (var layer in Layers) Vgg19.LayerIndex(layer);
        if (!Enum.IsDefined(StyleLoss)) throw new StylizeUsageException($"--style-loss {(int)StyleLoss} is not a style loss.");
        foreach (var (name, value) in new[] { ("--content-weight", ContentWeight), ("--style-weight", StyleWeight), ("--tv-weight", TvWeight) })
            if (!float.IsFinite(value) || value < 0)
                throw new StylizeUsageException($"{name} {value} must be a finite number ≥ 0.");
    }
}
