using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Tests;

/// <summary>
/// A .ilgw file with only VGG19's first layers (conv1_1 … conv2_1, random values, seed 15): enough for relu1_1 …
/// relu2_1 and pool1, so CLI runs on the CPU simulator take well under a second; deeper layers are a weights error.
/// </summary>
public static class TinyWeights
{
    public static string Write(string dir)
    {
        var rng = new Random(15);
        var tensors = new List<WeightTensor>();
        foreach (var layer in Vgg19Layout.ConvLayers.Take(3))
        {
            var w = new float[layer.Cout * layer.Cin * 9];
            for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() - 0.5) * 0.2f;
            tensors.Add(new WeightTensor(layer.WeightName, [layer.Cout, layer.Cin, 3, 3], w, "random"));
            tensors.Add(new WeightTensor(layer.BiasName, [layer.Cout], new float[layer.Cout], "random"));
        }
        var path = Path.Combine(dir, "tiny.ilgw");
        new VggWeights(tensors, Preprocessing.TorchvisionImagenet, "tiny test weights").Save(path);
        return path;
    }
}
