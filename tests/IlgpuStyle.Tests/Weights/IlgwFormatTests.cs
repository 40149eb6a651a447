using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using IlgpuStyle.Network.Weights;
using Xunit;

namespace IlgpuStyle.Tests.Weights;

public class IlgwFormatTests(ITestOutputHelper log)
{
    /// <summary>Three small tensors (not VGG19-complete: the format does not care) with values of varied magnitude.</summary>
    private static VggWeights Small()
    {
        var w = TestData.Uniform(1, 4 * 3 * 3 * 3, -0.7f, 0.7f);
        var b = TestData.Uniform(2, 4, -3f, 3f);
        var x = TestData.Uniform(3, 5 * 4 * 3 * 3, -0.05f, 0.05f);
        x[0] = 1e-6f;   // a float16 subnormal
        return new VggWeights(
            [
                new WeightTensor("conv1_1.weight", [4, 3, 3, 3], w, "test float32"),
                new WeightTensor("conv1_1.bias", [4], b, "test float32"),
                new WeightTensor("conv1_2.weight", [5, 4, 3, 3], x, "other uint8-dequantized"),
            ],
            Preprocessing.KerasImagenet, "unit test");
    }

    [Fact]
    public void F32RoundTripIsBitExactAndKeepsMetadata()
    {
        using var dir = new TempDir();
        var original = Small();
        var saved = original.Save(dir.File("w.ilgw"));
        var loaded = VggWeights.Load(saved.Path);

        Assert.Equal(saved.Sha256, loaded.Sha256);
        Assert.Equal(StorageDType.F32, loaded.StoredAs);
        Assert.Equal(Preprocessing.KerasImagenet, loaded.Preprocessing);
        Assert.Equal("unit test", loaded.ConvertedFrom);
        Assert.Equal(original.Ordered.Select(t => t.Name), loaded.Ordered.Select(t => t.Name));
        foreach (var t in original.Ordered)
        {
            var l = loaded.Tensors[t.Name];
            Assert.Equal(t.Dims, l.Dims);
            Assert.Equal(t.Shape, l.Shape);
            Assert.Equal(t.Source, l.Source);
            Assert.Equal(t.Data, l.Data);   // exact
        }
        Assert.Equal(new IlgpuStyle.Kernels.Shape4(4, 3, 3, 3), loaded.Tensors["conv1_1.weight"].Shape);
        Assert.Equal(IlgpuStyle.Kernels.Shape4.Vector(4), loaded.Tensors["conv1_1.bias"].Shape);

        // Layout: payload and every tensor 64-aligned; header JSON right after the 12-byte preamble.
        var bytes = File.ReadAllBytes(saved.Path);
        Assert.Equal("ILGW", Encoding.ASCII.GetString(bytes, 0, 4));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        int headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 12, headerLength))!;
        long payloadStart = (12 + headerLength + 63) / 64 * 64;
        Assert.Equal(bytes.Length, payloadStart + (long)header["payloadLength"]!);
        foreach (var e in loaded.Entries) Assert.Equal(0, e.Offset % 64);
        Assert.Equal(saved.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes.AsSpan((int)payloadStart))));
    }

    [Fact]
    public void F16RoundTripRoundsToNearestHalfAndReportsTheError()
    {
        using var dir = new TempDir();
        var original = Small();
        var saved = original.Save(dir.File("w16.ilgw"), StorageDType.F16);
        var loaded = VggWeights.Load(saved.Path);
        Assert.Equal(StorageDType.F16, loaded.StoredAs);

        double maxAbs = 0;
        foreach (var t in original.Ordered)
        {
            var l = loaded.Tensors[t.Name].Data;
            double tensorMax = 0;
            for (int i = 0; i < l.Length; i++)
            {
                Assert.Equal((float)(Half)t.Data[i], l[i]);   // exactly the nearest half
                double err = Math.Abs(l[i] - t.Data[i]);
                // Half has an 11-bit significand: rounding error ≤ 2^-11·|x| (normal) or ≤ 2^-25 (subnormal spacing / 2).
                Assert.True(err <= Math.Max(Math.Abs(t.Data[i]) * Math.Pow(2, -11), Math.Pow(2, -25)), $"{t.Name}[{i}] error {err}");
                tensorMax = Math.Max(tensorMax, err);
            }
            var recorded = loaded.Entries.Single(e => e.Name == t.Name).F16MaxAbsError;
            Assert.NotNull(recorded);
            Assert.Equal(tensorMax, recorded!.Value, 12);
            maxAbs = Math.Max(maxAbs, tensorMax);
        }
        log.WriteLine($"f16 storage: max |f32 − f16| = {maxAbs:E3} (values up to 3.0), recorded {saved.MaxAbsStorageError:E3}");
        Assert.Equal(maxAbs, saved.MaxAbsStorageError, 12);
        Assert.True(new FileInfo(saved.Path).Length < new FileInfo(original.Save(dir.File("w32.ilgw")).Path).Length);
    }

    [Fact]
    public void SavingIsDeterministicAtomicAndLeavesNoTemporaryFiles()
    {
        using var dir = new TempDir();
        var path = dir.File("w.ilgw");
        var a = Small().Save(path);
        var first = File.ReadAllBytes(path);
        var b = Small().Save(path);   // overwrite
        Assert.Equal(first, File.ReadAllBytes(path));
        Assert.Equal(a.Sha256, b.Sha256);

        // A failing save (value beyond float16 range) must leave the previous file intact and no temp file behind.
        var huge = new VggWeights([new WeightTensor("x.weight", [1], [1e6f], "test")], Preprocessing.KerasImagenet, "");
        var e = Assert.Throws<ArgumentException>(() => huge.Save(path, StorageDType.F16));
        Assert.Contains("float16 range", e.Message);
        Assert.Equal(first, File.ReadAllBytes(path));
        Assert.Equal(["w.ilgw"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    // ---- corruption: every case is a WeightsFormatException with one line naming the file and the problem ----

    private static string Corrupt(TempDir dir, Action<byte[]> change, Func<byte[], byte[]>? resize = null)
    {
        var path = dir.File("w.ilgw");
        Small().Save(path);
        var bytes = File.ReadAllBytes(path);
        change(bytes);
        File.WriteAllBytes(path, resize?.Invoke(bytes) ?? bytes);
        return path;
    }

    private string LoadFails(string path, string expected)
    {
        var e = Assert.Throws<WeightsFormatException>(() => VggWeights.Load(path));
        log.WriteLine(e.Message);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void WrongMagicIsRejected()
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, b => b[0] = (byte)'X'), "not an .ilgw weights file");
        // A PyTorch zip checkpoint gets a hint how to convert it.
        var pth = dir.File("model.pth");
        File.WriteAllBytes(pth, [0x50, 0x4B, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Contains("weights convert", LoadFails(pth, "not an .ilgw weights file"));
    }

    [Fact]
    public void UnsupportedVersionIsRejected()
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, b => b[4] = 2), "unsupported .ilgw version 2");
    }

    [Theory]
    [InlineData(0, "truncated")]
    [InlineData(7, "truncated")]
    [InlineData(100, "truncated: the header needs")]
    [InlineData(-1, "truncated: expected")]
    [InlineData(-200, "truncated: expected")]
    public void TruncatedFilesAreRejected(int keep, string expected)
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, _ => { }, b => b[..(keep >= 0 ? keep : b.Length + keep)]), expected);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, _ => { }, b => [.. b, 0]), "1 unexpected bytes after the payload");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    [InlineData(-1)]
    public void FlippedPayloadByteFailsTheChecksum(int fromPayloadStart)
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, b =>
        {
            int headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8));
            int start = (12 + headerLength + 63) / 64 * 64;
            b[fromPayloadStart >= 0 ? start + fromPayloadStart : b.Length + fromPayloadStart] ^= 0x10;
        }), "checksum mismatch");
    }

    /// <summary>Rewrites the JSON header (payload bytes unchanged, moved to the new aligned start).</summary>
    private static string EditHeader(TempDir dir, Action<JsonNode> edit)
    {
        var path = dir.File("w.ilgw");
        Small().Save(path);
        var bytes = File.ReadAllBytes(path);
        int headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int payloadStart = (12 + headerLength + 63) / 64 * 64;
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 12, headerLength))!;
        edit(header);
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int newStart = (12 + json.Length + 63) / 64 * 64;
        var result = new byte[newStart + bytes.Length - payloadStart];
        bytes.AsSpan(0, 8).CopyTo(result);
        BinaryPrimitives.WriteUInt32LittleEndian(result.AsSpan(8), (uint)json.Length);
        json.CopyTo(result, 12);
        bytes.AsSpan(payloadStart).CopyTo(result.AsSpan(newStart));
        File.WriteAllBytes(path, result);
        return path;
    }

    [Fact]
    public void UneditedHeaderRewriteStillLoads()   // guards the EditHeader helper: the failures below come from the edits
    {
        using var dir = new TempDir();
        Assert.Equal(3, VggWeights.Load(EditHeader(dir, _ => { })).Ordered.Count);
    }

    [Theory]
    [InlineData("shape", "needs 428 bytes but the header says length 432")]
    [InlineData("length", "needs 432 bytes but the header says length 436")]
    [InlineData("dtype", "unsupported dtype \"f64\"")]
    [InlineData("offset", "is not a multiple of 64")]
    [InlineData("overlap", "overlaps the previous tensor")]
    [InlineData("payloadLength", "does not match the end of the last tensor")]
    [InlineData("sha256", "sha256 is missing")]
    [InlineData("channelOrder", "is not RGB or BGR")]
    [InlineData("duplicate", "is listed twice")]
    public void HeaderInconsistenciesAreRejected(string what, string expected)
    {
        using var dir = new TempDir();
        var path = EditHeader(dir, h =>
        {
            var t0 = h["tensors"]![0]!;
            var t1 = h["tensors"]![1]!;
            switch (what)
            {
                case "shape": t0["shape"] = new JsonArray(107, 1, 1, 1); break;   // 107 floats = 428 bytes
                case "length": t0["length"] = 436; break;
                case "dtype": t0["dtype"] = "f64"; break;
                case "offset": t1["offset"] = (long)t1["offset"]! + 4; break;
                case "overlap": t1["offset"] = 0; break;
                case "payloadLength": h["payloadLength"] = (long)h["payloadLength"]! + 64; break;
                case "sha256": h["sha256"] = "abc"; break;
                case "channelOrder": h["preprocessing"]!["channelOrder"] = "GBR"; break;
                case "duplicate": t1["name"] = "conv1_1.weight"; break;
            }
        });
        LoadFails(path, expected);
    }

    [Fact]
    public void HeaderThatIsNotJsonIsRejected()
    {
        using var dir = new TempDir();
        LoadFails(Corrupt(dir, b => b[12] = (byte)'#'), "header is not valid JSON");
    }

    [Fact]
    public void MissingFileIsAFormatError()
    {
        using var dir = new TempDir();
        LoadFails(dir.File("absent.ilgw"), "does not exist");
    }

    // ---- the VGG19 layout and Validate ----

    [Fact]
    public void Vgg19LayoutIsTheCanonicalConvStack()
    {
        var l = Vgg19Layout.ConvLayers;
        Assert.Equal(16, l.Count);
        Assert.Equal(["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
                      "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"], l.Select(x => x.Name));
        Assert.Equal((3, 64), (l[0].Cin, l[0].Cout));
        Assert.Equal((256, 512), (l[8].Cin, l[8].Cout));
        Assert.Equal((512, 512), (l[15].Cin, l[15].Cout));
        for (int i = 1; i < l.Count; i++) Assert.Equal(l[i - 1].Cout, l[i].Cin);
        Assert.Equal(["conv1_2", "conv2_2", "conv3_4", "conv4_4", "conv5_4"], l.Where(x => x.PoolAfter).Select(x => x.Name));
        // The uint8 TF.js export stores every conv parameter as one byte: 20,024,384 bytes (shared/vgg19/README.md).
        Assert.Equal(20_024_384L, l.Sum(x => (long)x.Cout * x.Cin * 9 + x.Cout));
        Assert.Equal(new IlgpuStyle.Kernels.Shape4(128, 64, 3, 3), Vgg19Layout.Get("conv2_1").WeightShape);
    }

    [Fact]
    public void ValidateListsMissingTensorsAndWrongShapes()
    {
        var layers = Vgg19Layout.ConvLayers.Take(2).ToList();
        var good = new VggWeights(
            layers.SelectMany(l => new[]
            {
                new WeightTensor(l.WeightName, [l.Cout, l.Cin, 3, 3], new float[l.Cout * l.Cin * 9], "t"),
                new WeightTensor(l.BiasName, [l.Cout], new float[l.Cout], "t"),
            }), Preprocessing.KerasImagenet, "");
        good.Validate(layers);

        var bad = new VggWeights(
            [
                new WeightTensor("conv1_1.weight", [64, 3, 3, 3], new float[1728], "t"),
                new WeightTensor("conv1_2.weight", [64, 64, 1, 1], new float[4096], "t"),
                new WeightTensor("conv1_2.bias", [64], new float[64], "t"),
            ], Preprocessing.KerasImagenet, "");
        var e = Assert.Throws<WeightsFormatException>(() => bad.Validate(layers));
        log.WriteLine(e.Message);
        Assert.Contains("missing conv1_1.bias", e.Message);
        Assert.Contains("conv1_2.weight has shape [64,64,1,1], expected [64,64,3,3]", e.Message);
    }
}
