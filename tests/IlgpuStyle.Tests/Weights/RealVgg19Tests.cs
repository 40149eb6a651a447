using System.Diagnostics;
using System.Text.Json;
using IlgpuStyle.Network.Weights;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

/// <summary>The converters on the real VGG19 weights in ../shared/vgg19 (skipped loudly when absent; CI=true fails).</summary>
public class RealVgg19Tests(ITestOutputHelper log)
{
    private static (string F32, string U8) Folders()
    {
        var dir = SharedData.RequireOrSkip();
        return (Path.Combine(dir, "keras-tfjs-f32-conv1-3"), Path.Combine(dir, "keras-tfjs-uint8"));
    }

    [Fact]
    public void ConvertingBothFoldersGivesAllLayersFromTheBestSource()
    {
        var (f32, u8) = Folders();
        var sw = Stopwatch.StartNew();
        var r = WeightsConverter.Convert([f32, u8]);
        log.WriteLine($"converted in {sw.ElapsedMilliseconds} ms");

        Assert.Equal(16, r.Layers.Count);
        foreach (var l in r.Layers)
        {
            var expected = l.Layer.Block <= 3 ? "keras-tfjs-f32-conv1-3 float32" : "keras-tfjs-uint8 uint8-dequantized";
            Assert.Equal(expected, l.Weight.Source);
            Assert.Equal(expected, l.Bias.Source);
            log.WriteLine($"{l.Layer.Name}: {string.Join("×", l.Weight.Dims)} from {l.Weight.Source}");
        }
        r.Weights.Validate(Vgg19Layout.ConvLayers);
        Assert.Equal(Preprocessing.KerasImagenet, r.Weights.Preprocessing);

        var bias = r.Weights.Bias(Vgg19Layout.Get("conv1_1")).Data;
        Check.Close([0.73018f, 0.06494f, 0.03429f, 0.82604f], bias.AsSpan(0, 4), 0, 5e-6, "conv1_1 bias[0..3]", log);
    }

    [Fact]
    public void Float32AndDequantizedUint8AgreeWithinHalfAQuantizationStep()
    {
        var (f32Dir, u8Dir) = Folders();
        var f32 = WeightsConverter.ReadSource(f32Dir).Tensors.ToDictionary(t => t.Name);
        var u8 = WeightsConverter.ReadSource(u8Dir).Tensors.ToDictionary(t => t.Name);
        Assert.Equal(32, u8.Count);
        Assert.Equal(16, f32.Count);
        Assert.All(u8.Values, t => Assert.Equal(SourcePrecision.Uint8, t.Precision));

        var scales = QuantizationScales(Path.Combine(u8Dir, "model.json"));
        foreach (var (name, t) in f32)
        {
            double step = scales[name];
            // Half a step, plus float32 rounding of min + scale·q (values are below ~1, so 1e-7 covers it).
            double max = Check.Close(t.Data, u8[name].Data, 0, step / 2 + 1e-7, $"{name} uint8 vs f32 (step {step:E2})", log);
            log.WriteLine($"  {name}: max|diff|/step = {max / step:F3}");
        }
    }

    [Fact]
    public void SavedFileLoadsBackExactlyAndQuicklyAndF16ErrorIsMeasured()
    {
        var (f32, u8) = Folders();
        var r = WeightsConverter.Convert([f32, u8]);
        using var dir = new TempDir();

        var saved = r.Weights.Save(dir.File("vgg19.ilgw"));
        var sw = Stopwatch.StartNew();
        var loaded = VggWeights.Load(saved.Path);
        log.WriteLine($"loaded {new FileInfo(saved.Path).Length / 1e6:F1} MB (f32) with SHA-256 check in {sw.ElapsedMilliseconds} ms");
        loaded.Validate(Vgg19Layout.ConvLayers);
        foreach (var t in r.Weights.Ordered) Assert.Equal(t.Data, loaded.Tensors[t.Name].Data);

        var saved16 = r.Weights.Save(dir.File("vgg19-f16.ilgw"), StorageDType.F16);
        sw.Restart();
        var loaded16 = VggWeights.Load(saved16.Path);
        log.WriteLine($"loaded {new FileInfo(saved16.Path).Length / 1e6:F1} MB (f16) in {sw.ElapsedMilliseconds} ms");
        double maxAbs = 0, maxRel = 0;
        foreach (var t in r.Weights.Ordered)
        {
            var back = loaded16.Tensors[t.Name].Data;
            double tensorMax = 0, absMax = 0;
            for (int i = 0; i < back.Length; i++)
            {
                tensorMax = Math.Max(tensorMax, Math.Abs(back[i] - t.Data[i]));
                absMax = Math.Max(absMax, Math.Abs(t.Data[i]));
            }
            maxAbs = Math.Max(maxAbs, tensorMax);
            maxRel = Math.Max(maxRel, tensorMax / absMax);
            Assert.Equal(tensorMax, loaded16.Entries.Single(e => e.Name == t.Name).F16MaxAbsError!.Value, 12);
        }
        log.WriteLine($"f16 storage of real VGG19: max |f32 − f16| = {maxAbs:E3}, max per-tensor error / max|w| = {maxRel:E3}");
        Assert.True(maxRel <= Math.Pow(2, -11), $"f16 error {maxRel} above half an ulp of the largest value");
        Assert.Equal(maxAbs, saved16.MaxAbsStorageError, 12);
    }

    /// <summary>VGG name → uint8 quantization scale, read straight from the manifest.</summary>
    private static Dictionary<string, double> QuantizationScales(string modelJson)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(modelJson));
        var result = new Dictionary<string, double>();
        foreach (var g in doc.RootElement.GetProperty("weightsManifest").EnumerateArray())
        foreach (var w in g.GetProperty("weights").EnumerateArray())
        {
            var name = w.GetProperty("name").GetString()!;   // blockB_convN/kernel
            if (!name.StartsWith("block") || !name.Contains("_conv")) continue;
            var parts = name.Split('/');
            var bn = parts[0]["block".Length..].Split("_conv");
            result[$"conv{bn[0]}_{bn[1]}.{(parts[1] == "kernel" ? "weight" : "bias")}"] = w.GetProperty("quantization").GetProperty("scale").GetDouble();
        }
        return result;
    }
}
