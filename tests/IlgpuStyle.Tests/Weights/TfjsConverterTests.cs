using IlgpuStyle.Network.Weights;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

public class TfjsConverterTests(ITestOutputHelper log)
{
    /// <summary>Plain reference: OIHW[o,i,h,w] = HWIO[h,w,i,o].</summary>
    private static void AssertOihwOf(float[] hwio, int kh, int kw, int cin, int cout, float[] oihw, double tolerance, string label)
    {
        Assert.Equal(hwio.Length, oihw.Length);
        double max = 0;
        for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
        for (int h = 0; h < kh; h++)
        for (int w = 0; w < kw; w++)
        {
            float expected = hwio[((h * kw + w) * cin + i) * cout + o];
            float actual = oihw[((o * cin + i) * kh + h) * kw + w];
            double err = Math.Abs(expected - actual);
            Assert.True(err <= tolerance, $"{label}[o={o},i={i},h={h},w={w}]: expected {expected}, got {actual}");
            max = Math.Max(max, err);
        }
        _ = label;
    }

    private sealed record Model(string Dir, float[] K1, float[] B1, float[] K2, float[] B2, double Scale2, double Scale2b,
        float[] K3, double Scale3, float[] K4, List<string[]> Files);

    /// <summary>
    /// group 1 float32 (names with a "vgg19/" prefix); group 2 uint8-quantized, cut into 100-byte shards, followed by a
    /// dense layer; group 3 uint16; group 4 float16. Shapes are small, not VGG19's (the reader does not check them).
    /// </summary>
    private static Model Write(string dir)
    {
        var k1 = TestData.Uniform(11, 3 * 3 * 3 * 5, -0.5f, 0.5f);
        var b1 = TestData.Uniform(12, 5);
        var k2 = TestData.Uniform(13, 3 * 3 * 5 * 4, -0.2f, 0.3f);
        var b2 = TestData.Uniform(14, 4);
        var k3 = TestData.Uniform(15, 3 * 3 * 4 * 2);
        var k4 = TestData.Uniform(16, 3 * 3 * 2 * 2);
        var files = new TfjsTestModel()
            .Group().Float32("vgg19/block1_conv1/kernel", [3, 3, 3, 5], k1).Float32("vgg19/block1_conv1/bias", [5], b1)
            .Group(shardBytes: 100)
                .Quantized("block1_conv2/kernel", [3, 3, 5, 4], k2, 8, out var s2, out _)
                .Quantized("block1_conv2/bias", [4], b2, 8, out var s2b, out _)
                .Float32("dense/kernel", [100], new float[100])
            .Group().Quantized("block2_conv1/kernel", [3, 3, 4, 2], k3, 16, out var s3, out _).Float32("block2_conv1/bias", [2], [0.5f, -0.5f])
            .Group().Float16Quantized("block2_conv2/kernel", [3, 3, 2, 2], k4).Float32("block2_conv2/bias", [2], [1f, 2f])
            .Write(dir);
        return new Model(dir, k1, b1, k2, b2, s2, s2b, k3, s3, k4, files);
    }

    [Fact]
    public void ReadsFloat32AndQuantizedGroupsAndTransposesHwioToOihw()
    {
        using var tmp = new TempDir();
        var m = Write(tmp.File("model"));
        // Group 2 = 180 + 4 bytes of conv1_2, then 400 bytes of dense kernel: 584 bytes in shards of 100.
        // Shards 3..6 hold only the dense layer; remove a middle one and the last one: nothing needed is there.
        Assert.Equal(6, m.Files[1].Length);
        File.Delete(Path.Combine(m.Dir, m.Files[1][3]));
        File.Delete(Path.Combine(m.Dir, m.Files[1][5]));

        var set = WeightsConverter.ReadSource(m.Dir);
        Assert.Equal("model", set.Name);
        Assert.Equal(Preprocessing.KerasImagenet, set.Preprocessing);
        Assert.Empty(set.Unavailable);
        var t = set.Tensors.ToDictionary(x => x.Name);
        Assert.Equal(["conv1_1.weight", "conv1_1.bias", "conv1_2.weight", "conv1_2.bias", "conv2_1.weight", "conv2_1.bias", "conv2_2.weight", "conv2_2.bias"],
            set.Tensors.Select(x => x.Name));

        Assert.Equal([5, 3, 3, 3], t["conv1_1.weight"].Dims);
        Assert.Equal(SourcePrecision.Float32, t["conv1_1.weight"].Precision);
        AssertOihwOf(m.K1, 3, 3, 3, 5, t["conv1_1.weight"].Data, 0, "conv1_1 float32");
        Assert.Equal(m.B1, t["conv1_1.bias"].Data);

        // uint8: every value within half a quantization step of the original; layout checked element by element.
        Assert.Equal([4, 5, 3, 3], t["conv1_2.weight"].Dims);
        Assert.Equal(SourcePrecision.Uint8, t["conv1_2.weight"].Precision);
        AssertOihwOf(m.K2, 3, 3, 5, 4, t["conv1_2.weight"].Data, m.Scale2 / 2 + 1e-7, "conv1_2 uint8");
        Check.Close(m.B2, t["conv1_2.bias"].Data, 0, m.Scale2b / 2 + 1e-7, "conv1_2.bias uint8", log);

        Assert.Equal(SourcePrecision.Uint16, t["conv2_1.weight"].Precision);
        AssertOihwOf(m.K3, 3, 3, 4, 2, t["conv2_1.weight"].Data, m.Scale3 / 2 + 1e-7, "conv2_1 uint16");
        Assert.Equal(SourcePrecision.Float16, t["conv2_2.weight"].Precision);
        AssertOihwOf(m.K4.Select(v => (float)(Half)v).ToArray(), 3, 3, 2, 2, t["conv2_2.weight"].Data, 0, "conv2_2 float16");
        log.WriteLine($"uint8 step {m.Scale2:E3}, uint16 step {m.Scale3:E3}");
    }

    [Fact]
    public void AbsentShardHoldingANeededTensorIsNamedInTheError()
    {
        using var tmp = new TempDir();
        var m = Write(tmp.File("model"));
        var absent = Path.Combine(m.Dir, m.Files[1][1]);   // second shard of the uint8 group: bytes 100..199 of conv1_2's kernel
        File.Delete(absent);

        var set = WeightsConverter.ReadSource(Path.Combine(m.Dir, "model.json"));
        Assert.Contains("conv1_2.weight", set.Unavailable.Keys);
        Assert.Contains(absent, set.Unavailable["conv1_2.weight"]);
        Assert.Contains("conv1_1.weight", set.Tensors.Select(x => x.Name));   // the rest is still read

        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.Convert([m.Dir]));
        log.WriteLine(e.Message);
        Assert.Contains($"{absent}, which is absent", e.Message);
        Assert.Contains("no input holds conv1_2, conv3_1", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TruncatedShardIsAnError()
    {
        using var tmp = new TempDir();
        var m = Write(tmp.File("model"));
        var shard = Path.Combine(m.Dir, m.Files[1][2]);
        File.WriteAllBytes(shard, File.ReadAllBytes(shard)[..50]);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(m.Dir));
        log.WriteLine(e.Message);
        Assert.Contains("weight group 2", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void BadModelJsonIsAnError()
    {
        using var tmp = new TempDir();
        var dir = tmp.File("broken");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "model.json"), "{ \"weightsManifest\": [ ");
        Assert.Contains("not valid JSON", Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "model.json"), "{ \"modelTopology\": {} }");
        Assert.Contains("has no weightsManifest", Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "model.json"), "{ \"weightsManifest\": [ { \"paths\": [\"a.bin\"], \"weights\": [ { \"name\": \"block1_conv1/bias\", \"shape\": \"64\", \"dtype\": \"float32\" } ] } ] }");
        Assert.Contains("malformed weightsManifest", Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(dir)).Message);
        Assert.Contains("has no model.json", Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(tmp.Path)).Message);
    }

    // ---- merging several inputs ----

    private static SourceSet FullSet(string name, SourcePrecision precision, float marker, Func<ConvLayerSpec, bool> has, Preprocessing? pre = null) =>
        new(name, "/x/" + name, "test", pre ?? Preprocessing.KerasImagenet,
            Vgg19Layout.ConvLayers.Where(has).SelectMany(l => new[]
            {
                new SourceTensor(l.WeightName, [l.Cout, l.Cin, 3, 3], Filled(l.Cout * l.Cin * 9, marker), precision),
                new SourceTensor(l.BiasName, [l.Cout], Filled(l.Cout, marker), precision),
            }).ToList());

    private static float[] Filled(int n, float v)
    {
        var a = new float[n];
        Array.Fill(a, v);
        return a;
    }

    [Fact]
    public void MergeKeepsTheMostPreciseCopyOfEachTensorAndReportsItsSource()
    {
        var uint8All = FullSet("q8", SourcePrecision.Uint8, 1f, _ => true);
        var f32Early = FullSet("f32", SourcePrecision.Float32, 2f, l => l.Block <= 3);
        var uint8Again = FullSet("q8b", SourcePrecision.Uint8, 3f, l => l.Block <= 3);
        var r = WeightsConverter.Merge([uint8All, f32Early, uint8Again]);

        Assert.Equal(16, r.Layers.Count);
        foreach (var l in r.Layers)
        {
            bool early = l.Layer.Block <= 3;
            Assert.Equal(early ? "f32 float32" : "q8 uint8-dequantized", l.Weight.Source);
            Assert.Equal(early ? 2f : 1f, l.Weight.Data[0]);   // ties (q8 vs q8b) go to the earlier input
            Assert.Equal(early ? 2f : 1f, l.Bias.Data[^1]);
            Assert.Equal(early ? ["q8 uint8-dequantized", "q8b uint8-dequantized"] : [], l.Alternatives);
        }
        r.Weights.Validate(Vgg19Layout.ConvLayers);
        Assert.Contains("q8: test; f32: test", r.Weights.ConvertedFrom);
    }

    [Fact]
    public void MergeRefusesToMixPreprocessingsOrLeaveLayersOut()
    {
        var keras = FullSet("keras", SourcePrecision.Uint8, 1f, l => l.Block <= 3);
        var torch = FullSet("torch", SourcePrecision.Float32, 1f, _ => true, Preprocessing.TorchvisionImagenet);
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.Merge([keras, torch]));
        Assert.Contains("cannot mix /x/keras", e.Message);

        e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.Merge([keras]));
        log.WriteLine(e.Message);
        Assert.Contains("no input holds conv4_1, conv4_2, conv4_3, conv4_4, conv5_1, conv5_2, conv5_3, conv5_4", e.Message);
    }
}
