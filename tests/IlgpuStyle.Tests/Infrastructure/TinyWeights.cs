using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Tests;

/// <summary>
/// A weights file with only the first VGG19 layers (conv1_1, conv1_2, conv2_1), random and fixed by a seed: enough
/// for relu1_1 … relu2_1 and pool1, so a CLI run on the cpu device takes seconds, not minutes, and needs no shared data.
/// </summary>
public static class TinyWeights
{
    /// <summary>The weights (conv1_1, conv1_2, conv2_1) from <paramref name="seed"/>.</summary>
    public static VggWeights Create(int seed = 15)
    {
        var rng = new Random(seed);
        var tensors = new List<WeightTensor>();
        foreach (var layer in Vgg19Layout.ConvLayers.Take(3))
        {
            var w = new float[layer.Cout * layer.Cin * 9];
            for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
            tensors.Add(new WeightTensor(layer.WeightName, [layer.Cout, layer.Cin, 3, 3], w, "random"));
            tensors.Add(new WeightTensor(layer.BiasName, [layer.Cout], new float[layer.Cout], "random"));
        }
        return new VggWeights(tensors, Preprocessing.TorchvisionImagenet, "tiny test weights");
    }

    /// <summary>Writes <see cref="Create"/>(15) as <paramref name="dir"/>/tiny.ilgw and returns its path.</summary>
    public static string Write(string dir)
    {
        var path = Path.Combine(dir, "tiny.ilgw");
        Create().Save(path);
        return path;
    }
}
