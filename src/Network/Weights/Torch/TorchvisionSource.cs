using System.Text.RegularExpressions;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// VGG19 conv tensors of a torchvision checkpoint (vgg19-dcbb9e9d.pth or any state_dict with the same names):
/// features.{0,2,5,7,10,12,14,16,19,21,23,25,28,30,32,34}.weight/bias = conv1_1 … conv5_4, already OIHW.
/// A prefix ("module.", "vgg.") is allowed. Preprocessing: torchvision ImageNet (RGB, 0..1, mean/std).
/// </summary>
internal static partial class TorchvisionSource
{
    /// <summary>Index in torchvision's vgg19().features of each conv layer, in <see cref="Vgg19Layout.ConvLayers"/> order.</summary>
    public static readonly int[] FeatureIndex = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];

    [GeneratedRegex(@"(?:^|\.)features\.(\d+)\.(weight|bias)$")]
    private static partial Regex FeatureName();

    /// <summary>"features.21.weight" → "conv4_2.weight"; null for other tensors.</summary>
    public static string? VggName(string torchName)
    {
        var m = FeatureName().Match(torchName);
        if (!m.Success) return null;
        int i = Array.IndexOf(FeatureIndex, int.Parse(m.Groups[1].Value));
        return i < 0 ? null : $"{Vgg19Layout.ConvLayers[i].Name}.{m.Groups[2].Value}";
    }

    public static SourceSet Read(string path)
    {
        try
        {
            return ReadCheckpoint(path);
        }
        catch (InvalidDataException e)
        {
            // System.IO.Compression on a damaged archive (an entry's header, its compression method, its data).
            throw WeightsFormatException.For(path, $"damaged zip archive ({e.Message})");
        }
    }

    private static SourceSet ReadCheckpoint(string path)
    {
        using var ckpt = TorchCheckpoint.Open(path);
        var tensors = new List<SourceTensor>();
        var seen = new Dictionary<string, string>();
        foreach (var (name, t) in ckpt.Tensors)
        {
            var vgg = VggName(name);
            if (vgg is null) continue;
            if (seen.TryGetValue(vgg, out var other))
                throw WeightsFormatException.For(path, $"both {other} and {name} map to {vgg}; cannot tell which one is VGG19's");
            seen[vgg] = name;
            var dims = t.Size.Select(d => checked((int)d)).ToArray();
            var precision = t.Storage.TypeName switch
            {
                "DoubleStorage" => SourcePrecision.Float64,
                "HalfStorage" => SourcePrecision.Float16,
                "BFloat16Storage" => SourcePrecision.BFloat16,
                _ => SourcePrecision.Float32,
            };
            tensors.Add(new SourceTensor(vgg, dims, ckpt.ReadFloats(name, t), precision));
        }
        return new SourceSet(Path.GetFileName(path), path, $"PyTorch checkpoint ({ckpt.Format}), torchvision preprocessing",
            Preprocessing.TorchvisionImagenet, tensors);
    }
}
