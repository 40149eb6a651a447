using System.Collections.Concurrent;
using System.Diagnostics;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Tests;
using IlgpuStyle.TorchReference;
using Xunit;

namespace IlgpuStyle.Oracle.Tests;

[CollectionDefinition(Name)]
public sealed class OracleCollection : ICollectionFixture<OracleData>
{
    public const string Name = "VGG19 oracle";
}

/// <summary>
/// What the oracle tests share, built once per test run and only when first asked for (so a missing shared/
/// folder skips the tests instead of failing the fixture): the real hybrid VGG19 weights, converted from both
/// shared/vgg19 folders, saved to a temporary .ilgw and loaded back (the path CI and users take); the libtorch
/// reference on them; test images; and libtorch's results, computed once and reused for every device.
/// </summary>
public sealed class OracleData : IDisposable
{
    private readonly Lazy<(VggWeights Weights, string Log)> weights = new(BuildWeights);
    private readonly Lazy<TorchVgg19> torchNet;
    private readonly Lazy<TorchVgg19> torchNet64;
    private readonly ConcurrentDictionary<string, RgbImage> images = new();
    private readonly ConcurrentDictionary<string, Lazy<object>> torchResults = new();

    public OracleData()
    {
        TorchSharp.torch.set_num_threads(2);
        torchNet = new(() => new TorchVgg19(weights.Value.Weights));
        torchNet64 = new(() => new TorchVgg19(weights.Value.Weights, TorchSharp.torch.ScalarType.Float64));
    }

    /// <summary>The converted, saved and reloaded weights; skips the test when shared/vgg19 is absent.</summary>
    public VggWeights Weights
    {
        get
        {
            SharedData.RequireOrSkip("vgg19");
            return weights.Value.Weights;
        }
    }

    /// <summary>How the weights were built (sizes, timings), for test logs.</summary>
    public string WeightsLog => weights.Value.Log;

    /// <summary>The libtorch reference in float32, the precision our network computes in.</summary>
    public TorchVgg19 Torch
    {
        get
        {
            _ = Weights;
            return torchNet.Value;
        }
    }

    /// <summary>The libtorch reference in float64: a near-exact result that shows how far each float32 implementation is from it.</summary>
    public TorchVgg19 Torch64
    {
        get
        {
            _ = Weights;
            return torchNet64.Value;
        }
    }

    /// <summary>shared/images/<paramref name="name"/>, loaded with our ImageLoader (SkiaSharp) and resized to exactly width×height.</summary>
    public RgbImage Image(string name, int width, int height) =>
        images.GetOrAdd($"{name} {width}x{height}", _ =>
            ImageResizer.Resize(ImageLoader.Load(Path.Combine(SharedData.RequireOrSkip("images"), name)), width, height));

    /// <summary>A libtorch result computed once per <paramref name="key"/> for the whole run.</summary>
    public T TorchResult<T>(string key, Func<T> compute) where T : class
    {
        _ = Weights;
        return (T)torchResults.GetOrAdd(key, _ => new Lazy<object>(() => compute())).Value;
    }

    private static (VggWeights, string) BuildWeights()
    {
        var vgg = SharedData.RequireOrSkip("vgg19");
        var sw = Stopwatch.StartNew();
        var converted = WeightsConverter.Convert([Path.Combine(vgg, "keras-tfjs-f32-conv1-3"), Path.Combine(vgg, "keras-tfjs-uint8")]);
        var convertMs = sw.ElapsedMilliseconds;
        var dir = Directory.CreateTempSubdirectory("ilgpu-style-oracle-");
        try
        {
            var saved = converted.Weights.Save(Path.Combine(dir.FullName, "vgg19-hybrid.ilgw"));
            sw.Restart();
            var loaded = VggWeights.Load(saved.Path);
            loaded.Validate(Vgg19Layout.ConvLayers);
            return (loaded, $"weights: converted in {convertMs} ms, saved {saved.FileBytes / 1e6:F1} MB (sha256 {saved.Sha256[..12]}…), " +
                            $"loaded back in {sw.ElapsedMilliseconds} ms; preprocessing {loaded.Preprocessing}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public void Dispose()
    {
        if (torchNet.IsValueCreated) torchNet.Value.Dispose();
        if (torchNet64.IsValueCreated) torchNet64.Value.Dispose();
    }
}
