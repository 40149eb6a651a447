namespace IlgpuStyle.Bench;

/// <summary>One VGG19 3×3 convolution: <see cref="Cin"/>→<see cref="Cout"/> channels on a Size×Size map (stride 1, pad 1).</summary>
public sealed record ConvLayerShape(string Name, int Cin, int Cout, int Size)
{
    /// <summary>Multiply-adds counted twice: 2·Cout·Cin·9·H·W (the same for forward and backward-to-input).</summary>
    public double Flops => 2.0 * Cout * Cin * 9 * Size * Size;
}

/// <summary>One Gram matrix input: the relu_k_1 feature map of <see cref="Channels"/>×Size×Size.</summary>
public sealed record GramShape(string Name, int Channels, int Size)
{
    /// <summary>Nominal 2·C²·P for both passes (the forward computes only the upper triangle, so it does about half).</summary>
    public double Flops => 2.0 * Channels * Channels * Size * Size;
}

/// <summary>The layer shapes of VGG19 for an input of S×S pixels.</summary>
public static class Vgg19Shapes
{
    /// <summary>All 16 convolutions, in network order; stage k (1-based) runs at S / 2^(k−1) (at least 1).</summary>
    public static IReadOnlyList<ConvLayerShape> Convolutions(int size)
    {
        var stages = new (int Channels, int Layers)[] { (64, 2), (128, 2), (256, 4), (512, 4), (512, 4) };
        var list = new List<ConvLayerShape>();
        int cin = 3;
        for (int s = 0; s < stages.Length; s++)
        {
            int side = Math.Max(1, size >> s);
            for (int l = 0; l < stages[s].Layers; l++)
            {
                list.Add(new ConvLayerShape($"conv{s + 1}_{l + 1}", cin, stages[s].Channels, side));
                cin = stages[s].Channels;
            }
        }
        return list;
    }

    /// <summary>The style layers relu1_1 … relu5_1 (inputs of the Gram matrices).</summary>
    public static IReadOnlyList<GramShape> StyleLayers(int size) =>
        Convolutions(size).Where(c => c.Name.EndsWith("_1"))
            .Select(c => new GramShape("relu" + c.Name[4..], c.Cout, c.Size)).ToList();

    /// <summary>The convolutions style transfer runs: conv1_1 … conv5_1 (VGG19 up to relu5_1).</summary>
    public static bool UpToRelu51(ConvLayerShape c) => string.CompareOrdinal(c.Name, "conv5_1") <= 0;
}
