using Google.Protobuf;
using IlgpuStyle.Network.Weights;
using Xunit;
using static IlgpuStyle.Tests.Weights.CaffeModelWriter;

namespace IlgpuStyle.Tests.Weights;

/// <summary>
/// .caffemodel files (CaffeModelSource), written by Google's protobuf encoder (CaffeModelWriter): the real VGG19
/// weights through a Caffe model come back bit for bit, in each layer format and blob style Caffe has written, and a
/// damaged or foreign file is one WeightsFormatException naming what is wrong — never another exception.
/// </summary>
public sealed class CaffeModelTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    /// <summary>VGG19 as VGG released it: every conv layer, each followed by ReLU, pools, the classifier (fc6 … fc8).</summary>
    private static CaffeModelWriter Vgg19(VggWeights weights, Func<int, Format>? format = null, Func<int, BlobStyle>? style = null)
    {
        var writer = new CaffeModelWriter();
        int i = 0;
        foreach (var layer in Vgg19Layout.ConvLayers)
        {
            var w = weights.Weight(layer);
            writer.Conv(layer.Name, [.. w.Dims], w.Data, weights.Bias(layer).Data, format?.Invoke(i) ?? Format.V2, style?.Invoke(i) ?? BlobStyle.ShapePacked);
            writer.Other("relu" + layer.Name[4..], "ReLU", format?.Invoke(i) ?? Format.V2);
            if (layer.PoolAfter) writer.Other($"pool{layer.Block}", "Pooling", format?.Invoke(i) ?? Format.V2);
            i++;
        }
        var rng = new Random(6);
        float[] Fc(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble())];
        return writer.Other("fc6", "InnerProduct", Format.V2, Fc(4096), Fc(64)).Other("fc7", "InnerProduct", Format.V2, Fc(1000))
            .Other("prob", "Softmax");
    }

    private static void AssertSameTensors(VggWeights expected, VggWeights actual)
    {
        foreach (var layer in Vgg19Layout.ConvLayers)
        {
            Assert.Equal(expected.Weight(layer).Dims, actual.Weight(layer).Dims);
            Assert.Equal(expected.Weight(layer).Data, actual.Weight(layer).Data);
            Assert.Equal(expected.Bias(layer).Dims, actual.Bias(layer).Dims);
            Assert.Equal(expected.Bias(layer).Data, actual.Bias(layer).Data);
        }
    }

    [Fact]
    public void TheRealWeightsThroughACaffeModelComeBackBitForBit()
    {
        var real = VggWeights.Load(RealWeights.Path);
        var model = dir.File("VGG_ILSVRC_19_layers.caffemodel");
        Vgg19(real).Save(model);
        var result = WeightsConverter.Convert([model]);
        AssertSameTensors(real, result.Weights);
        Assert.Equal(Preprocessing.KerasImagenet, result.Weights.Preprocessing);   // Caffe's: BGR, 0..255, minus the mean
        Assert.All(result.Layers, l => Assert.Equal("VGG_ILSVRC_19_layers.caffemodel float32", l.Weight.Source));
        Assert.Contains("Caffe model (", result.Weights.ConvertedFrom);
    }

    [Fact]
    public void EveryLayerFormatAndBlobStyleCaffeWroteReadsTheSame()
    {
        var real = VggWeights.Load(RealWeights.Path);
        var model = dir.File("mixed.caffemodel");
        // Layer i: V2, V1 or V0 in turn; blobs with a packed shape, legacy num/channels/height/width, unpacked floats, doubles.
        Vgg19(real, i => (Format)(i % 3), i => (BlobStyle)(i / 3 % 4)).Save(model);
        var set = WeightsConverter.ReadSource(model);
        Assert.Equal(32, set.Tensors.Count);
        var result = WeightsConverter.Merge([set]);
        AssertSameTensors(real, result.Weights);
        // Doubles are rounded to float32 (exactly, here): labelled as such; the others are float32.
        Assert.Equal(SourcePrecision.Float64, set.Tensors.Single(t => t.Name == "conv4_2.weight").Precision);   // layer 9: 9 / 3 % 4 = 3
        Assert.Equal(SourcePrecision.Float32, set.Tensors.Single(t => t.Name == "conv1_1.weight").Precision);
    }

    [Fact]
    public void TheCliConvertsACaffeModel()
    {
        var real = VggWeights.Load(RealWeights.Path);
        var model = dir.File("vgg19.caffemodel");
        Vgg19(real, i => i % 2 == 0 ? Format.V1 : Format.V2).Save(model);
        var (code, stdout, stderr) = CliRunner.Run("weights", "convert", "--from", model, "--out", dir.File("vgg19.ilgw"));
        log.WriteLine(stdout + stderr);
        Assert.Equal(0, code);
        AssertSameTensors(real, VggWeights.Load(dir.File("vgg19.ilgw")));
    }

    private static readonly float[] Kernel = [.. Enumerable.Range(0, 2 * 3 * 9).Select(i => i * 0.01f - 0.2f)];
    private static readonly float[] Bias = [0.5f, -0.25f];

    private string Model(Action<CaffeModelWriter> build)
    {
        var writer = new CaffeModelWriter();
        build(writer);
        var path = dir.File($"m{Guid.NewGuid():N}.caffemodel");
        writer.Save(path);
        return path;
    }

    private static string Refused(string path) =>
        Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path)).Message;

    [Fact]
    public void ASmallModelReadsItsConvLayersOnly()
    {
        var set = WeightsConverter.ReadSource(Model(w => w.Other("data", "ReLU").Conv("conv1_1", [2, 3, 3, 3], Kernel, Bias)
            .Conv("conv9_9", [2, 3, 3, 3], Kernel, Bias).Other("fc6", "InnerProduct", Format.V2, Kernel, Bias)));
        Assert.Equal(["conv1_1.weight", "conv1_1.bias"], set.Tensors.Select(t => t.Name));
        Assert.Equal([2, 3, 3, 3], set.Tensors[0].Dims);
        Assert.Equal(Kernel, set.Tensors[0].Data);
        Assert.Equal([2], set.Tensors[1].Dims);
        Assert.Equal(Bias, set.Tensors[1].Data);
    }

    [Theory]
    [InlineData("not-a-conv", "layer conv1_1 is a ReLU, not a convolution")]
    [InlineData("one-blob", "layer conv1_1 has 1 blobs; a convolution with a bias has 2")]
    [InlineData("twice", "two layers are named conv1_1")]
    [InlineData("count", "conv1_1 kernel has 53 values for dimensions [2,3,3,3] (54)")]
    [InlineData("no-dims", "conv1_1 kernel has no dimensions")]
    [InlineData("zero-dim", "conv1_1 kernel has dimensions [2,0,3,3]")]
    [InlineData("3d", "layer conv1_1's kernel has 3 dimensions, not 4")]
    [InlineData("empty", "holds no Caffe layers")]
    public void WhatIsWrongIsSaid(string what, string message)
    {
        ByteString Blob(int[] dims, float[] data) => CaffeModelWriter.Blob(dims, data, BlobStyle.ShapePacked);
        var path = Model(w =>
        {
            switch (what)
            {
                case "not-a-conv": w.Other("conv1_1", "ReLU"); break;
                case "one-blob": w.Layer("conv1_1", Format.V2, "Convolution", [Blob([2, 3, 3, 3], Kernel)]); break;
                case "twice": w.Conv("conv1_1", [2, 3, 3, 3], Kernel, Bias).Conv("conv1_1", [2, 3, 3, 3], Kernel, Bias, Format.V1); break;
                case "count": w.Layer("conv1_1", Format.V2, "Convolution", [Blob([2, 3, 3, 3], Kernel[1..]), Blob([2], Bias)]); break;
                case "no-dims": w.Layer("conv1_1", Format.V2, "Convolution", [DataOnly(Kernel), Blob([2], Bias)]); break;
                case "zero-dim": w.Layer("conv1_1", Format.V2, "Convolution", [Blob([2, 0, 3, 3], []), Blob([2], Bias)]); break;
                case "3d": w.Layer("conv1_1", Format.V2, "Convolution", [Blob([6, 3, 3], Kernel), Blob([2], Bias)]); break;
            }
        });
        if (what == "empty") File.WriteAllBytes(path, []);
        var error = Refused(path);
        log.WriteLine(error);
        Assert.Contains(message, error);
        Assert.StartsWith(path + ": ", error);
    }

    /// <summary>A BlobProto with packed data and neither shape nor the legacy dimensions.</summary>
    private static ByteString DataOnly(float[] data)
    {
        var ms = new MemoryStream();
        var o = new CodedOutputStream(ms);
        o.WriteTag(5, WireFormat.WireType.LengthDelimited);
        o.WriteLength(4 * data.Length);
        foreach (float v in data) o.WriteFloat(v);
        o.Flush();
        return ByteString.CopyFrom(ms.ToArray());
    }

    /// <summary>
    /// Every prefix of a valid model and single-byte corruptions of it: the reader returns or throws
    /// WeightsFormatException — never an exception of its own (index, overflow, out of memory), never a hang.
    /// </summary>
    [Fact]
    public void DamagedModelsAreFormatErrorsOnly()
    {
        var bytes = new CaffeModelWriter().Conv("conv1_1", [2, 3, 3, 3], Kernel, Bias, Format.V1, BlobStyle.Legacy4D)
            .Conv("conv1_2", [2, 2, 3, 3], Kernel[..36], Bias, Format.V2, BlobStyle.UnpackedFloats)
            .Conv("conv2_1", [2, 2, 3, 3], Kernel[..36], Bias, Format.V0, BlobStyle.Doubles).ToArray();
        var path = dir.File("damaged.caffemodel");
        int read = 0, refused = 0;
        void Try(byte[] input)
        {
            File.WriteAllBytes(path, input);
            try
            {
                WeightsConverter.ReadSource(path);
                read++;
            }
            catch (WeightsFormatException)
            {
                refused++;
            }
        }
        for (int n = 0; n < bytes.Length; n++) Try(bytes[..n]);
        var rng = new Random(8);
        for (int k = 0; k < 3000; k++)
        {
            var copy = (byte[])bytes.Clone();
            copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
            if (k % 3 == 0) copy[rng.Next(copy.Length)] = 0xFF;
            Try(copy);
        }
        log.WriteLine($"{bytes.Length} bytes: {read} inputs read, {refused} refused");
        Assert.True(refused > bytes.Length / 2, "most prefixes should be refused");
    }
}
