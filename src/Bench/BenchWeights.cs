using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Bench;

/// <summary>The VGG19 weights a benchmark runs with, and a line saying which they are.</summary>
public sealed record BenchWeights(VggWeights Weights, string Description, bool IsReal)
{
    /// <summary>The value of --weights that forces random weights.</summary>
    public const string RandomKeyword = "random";

    /// <summary>Seed of the random weights (the libtorch baseline uses the same one, so both see the same values).</summary>
    public const int DefaultSeed = 19;

    /// <summary>
    /// <paramref name="spec"/> = "random" → random VGG19-shaped weights; a path → that .ilgw file; null → the file
    /// <see cref="WeightsLocator"/> finds ($ILGPU_STYLE_WEIGHTS, ./weights/vgg19.ilgw, the user cache), else random
    /// weights. Timings do not depend on the values; the description says which were used.
    /// </summary>
    public static BenchWeights Resolve(string? spec, int seed = DefaultSeed)
    {
        if (string.Equals(spec, RandomKeyword, StringComparison.OrdinalIgnoreCase)) return Random(seed, "--weights random");
        string path;
        try
        {
            path = WeightsLocator.Find(spec);
        }
        catch (WeightsNotFoundException) when (string.IsNullOrEmpty(spec))
        {
            return Random(seed, "no weights file found");
        }
        var weights = VggWeights.Load(path);
        return new BenchWeights(weights, $"real: {path} ({weights.Preprocessing})", true);
    }

    private static BenchWeights Random(int seed, string why) =>
        new(RandomVggWeights.Create(seed), $"random VGG19-shaped (seed {seed}; {why})", false);
}

/// <summary>
/// VGG19-shaped weights with random values (conv1_1 … conv5_4): He-uniform kernels
/// w ~ U(−√(6/(9·Cin)), +√(6/(9·Cin))), which keep the activations O(1) through the ReLU stack, and biases
/// U(−0.05, 0.05); torchvision preprocessing. Deterministic for a seed (System.Random, layer by layer).
/// </summary>
public static class RandomVggWeights
{
    public static VggWeights Create(int seed)
    {
        var rng = new Random(seed);
        var tensors = new List<WeightTensor>();
        foreach (var layer in Vgg19Layout.ConvLayers)
        {
            float range = MathF.Sqrt(6f / (9 * layer.Cin));
            var w = Uniform(rng, layer.Cout * layer.Cin * 9, range);
            var b = Uniform(rng, layer.Cout, 0.05f);
            tensors.Add(new WeightTensor(layer.WeightName, [layer.Cout, layer.Cin, 3, 3], w, $"random seed {seed}"));
            tensors.Add(new WeightTensor(layer.BiasName, [layer.Cout], b, $"random seed {seed}"));
        }
        return new VggWeights(tensors, Preprocessing.TorchvisionImagenet, $"random VGG19-shaped weights, seed {seed}");
    }

    private static float[] Uniform(Random rng, int n, float range)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = range * (2f * (float)rng.NextDouble() - 1f);
        return a;
    }
}
