using IlgpuStyle.Kernels;

namespace IlgpuStyle.Network.Weights;

/// <summary>
/// One 3×3 convolution layer of VGG19 (stride 1, zero padding 1, followed by ReLU).
/// <see cref="Block"/> and <see cref="Index"/> are VGG's numbering: conv4_2 is block 4, index 2.
/// </summary>
public sealed record ConvLayerSpec(string Name, int Block, int Index, int Cin, int Cout)
{
    public const int KernelSize = 3;

    /// <summary>Tensor name of the kernel in .ilgw files: "convB_N.weight", stored OIHW.</summary>
    public string WeightName => Name + ".weight";

    /// <summary>Tensor name of the bias in .ilgw files: "convB_N.bias".</summary>
    public string BiasName => Name + ".bias";

    /// <summary>Kernel shape OIHW = Cout×Cin×3×3 (the Shape4 fields N, C, H, W hold O, I, H, W).</summary>
    public Shape4 WeightShape => new(Cout, Cin, KernelSize, KernelSize);

    /// <summary>Bias shape: a vector of Cout values, 1×Cout×1×1.</summary>
    public Shape4 BiasShape => Shape4.Vector(Cout);

    /// <summary>True when a 2×2 max pooling (stride 2) follows this layer's ReLU in VGG19.</summary>
    public bool PoolAfter => Index == Vgg19Layout.LayersInBlock(Block);
}

/// <summary>
/// The canonical VGG19 convolution stack (Simonyan &amp; Zisserman, configuration E): 16 conv layers in
/// 5 blocks of 2, 2, 4, 4, 4 layers; a 2×2 max pooling closes each block. The fully connected layers are
/// not listed: style transfer does not use them.
/// </summary>
public static class Vgg19Layout
{
    private static readonly int[] BlockLengths = [2, 2, 4, 4, 4];
    private static readonly int[] BlockChannels = [64, 128, 256, 512, 512];

    /// <summary>conv1_1 (3→64) … conv5_4 (512→512), in network order.</summary>
    public static readonly IReadOnlyList<ConvLayerSpec> ConvLayers = Build();

    /// <summary>Number of conv layers in block <paramref name="block"/> (1-based).</summary>
    public static int LayersInBlock(int block) => BlockLengths[block - 1];

    /// <summary>The layer named <paramref name="name"/> (e.g. "conv4_2"), or an exception listing valid names.</summary>
    public static ConvLayerSpec Get(string name) =>
        ConvLayers.FirstOrDefault(l => l.Name == name)
        ?? throw new ArgumentException($"unknown VGG19 layer '{name}' (expected one of {string.Join(", ", ConvLayers.Select(l => l.Name))})", nameof(name));

    private static ConvLayerSpec[] Build()
    {
        var layers = new List<ConvLayerSpec>();
        int cin = 3;
        for (int b = 1; b <= BlockLengths.Length; b++)
        {
            int cout = BlockChannels[b - 1];
            for (int i = 1; i <= BlockLengths[b - 1]; i++)
            {
                layers.Add(new ConvLayerSpec($"conv{b}_{i}", b, i, cin, cout));
                cin = cout;
            }
        }
        return layers.ToArray();
    }
}
