namespace IlgpuStyle.Network.Weights;

/// <summary>Channel order the network expects at its input.</summary>
public enum ChannelOrder { RGB, BGR }

/// <summary>
/// How an image becomes the network input. With p ∈ [0, 1] the image value of a channel, the input value of
/// that channel is x = (p · InputScale − Mean[c]) / Std[c], where c counts channels in <see cref="ChannelOrder"/>
/// (Mean and Std are listed in the network's input order, e.g. B, G, R for Keras/Caffe weights).
/// </summary>
public sealed record Preprocessing(ChannelOrder ChannelOrder, float InputScale, IReadOnlyList<float> Mean, IReadOnlyList<float> Std)
{
    /// <summary>Keras/Caffe "imagenet" mode: BGR, 0..255, minus the ImageNet mean B=103.939 G=116.779 R=123.68, no std.</summary>
    public static readonly Preprocessing KerasImagenet = new(ChannelOrder.BGR, 255f, [103.939f, 116.779f, 123.68f], [1f, 1f, 1f]);

    /// <summary>torchvision: RGB, 0..1, mean [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225].</summary>
    public static readonly Preprocessing TorchvisionImagenet = new(ChannelOrder.RGB, 1f, [0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    public bool Equals(Preprocessing? other) =>
        other is not null && ChannelOrder == other.ChannelOrder && InputScale == other.InputScale
        && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    public override int GetHashCode() => HashCode.Combine(ChannelOrder, InputScale, Mean[0], Std[0]);

    public override string ToString() =>
        $"{ChannelOrder}, input scale {InputScale:0.###}, mean [{Join(Mean)}], std [{Join(Std)}]";

    private static string Join(IReadOnlyList<float> v) =>
        string.Join(", ", v.Select(x => x.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture)));
}
