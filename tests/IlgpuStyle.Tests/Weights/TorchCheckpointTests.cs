using IlgpuStyle.Network.Weights;
using Xunit;
using static IlgpuStyle.Tests.Weights.TorchSaveWriter;

namespace IlgpuStyle.Tests.Weights;

public class TorchCheckpointTests(ITestOutputHelper log)
{
    /// <summary>A 2-layer fake VGG: features.0 (3→4) and features.2 (4→5), plus a classifier tensor that is ignored.</summary>
    private static List<FakeTensor> TwoLayers() =>
    [
        Dense("features.0.weight", TestData.Uniform(21, 4 * 3 * 3 * 3), 4, 3, 3, 3),
        Dense("features.0.bias", TestData.Uniform(22, 4), 4),
        Dense("features.2.weight", TestData.Uniform(23, 5 * 4 * 3 * 3), 5, 4, 3, 3),
        Dense("features.2.bias", TestData.Uniform(24, 5), 5),
        Dense("classifier.0.weight", TestData.Uniform(25, 6), 2, 3),
    ];

    private static void AssertReadsTwoLayers(string path, List<FakeTensor> written)
    {
        var set = WeightsConverter.ReadSource(path);
        Assert.Equal(Path.GetFileName(path), set.Name);
        Assert.Equal(Preprocessing.TorchvisionImagenet, set.Preprocessing);
        Assert.Equal(["conv1_1.weight", "conv1_1.bias", "conv1_2.weight", "conv1_2.bias"], set.Tensors.Select(t => t.Name));
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(written[i].Size.Select(d => (int)d), set.Tensors[i].Dims);
            Assert.Equal(written[i].Storage, set.Tensors[i].Data);   // already OIHW: copied exactly
            Assert.Equal(SourcePrecision.Float32, set.Tensors[i].Precision);
        }
    }

    [Fact]
    public void ReadsZipCheckpoint()
    {
        using var dir = new TempDir();
        var path = dir.File("vgg-fake.pth");
        var tensors = TwoLayers();
        WriteZip(path, tensors);
        AssertReadsTwoLayers(path, tensors);
        Assert.Contains("torch.save zip", WeightsConverter.ReadSource(path).Description);
    }

    [Fact]
    public void ReadsZipCheckpointWithAnotherArchiveNameAndAStateDictWrapper()
    {
        using var dir = new TempDir();
        var path = dir.File("checkpoint.pth");
        var tensors = TwoLayers();
        WriteZip(path, tensors, archive: "checkpoint", wrapInStateDictKey: true);
        AssertReadsTwoLayers(path, tensors);
    }

    [Fact]
    public void ReadsLegacyCheckpointAsTorchvisionPublishedIt()
    {
        using var dir = new TempDir();
        var tensors = TwoLayers();
        var py2 = dir.File("legacy-py2.pth");
        WriteLegacy(py2, tensors, python2Strings: true);
        AssertReadsTwoLayers(py2, tensors);
        Assert.Contains("legacy torch.save", WeightsConverter.ReadSource(py2).Description);
        var py3 = dir.File("legacy-py3.pth");
        WriteLegacy(py3, tensors, python2Strings: false);
        AssertReadsTwoLayers(py3, tensors);
    }

    [Fact]
    public void GathersStridedViewsSharedStoragesAndHalfStorages()
    {
        using var dir = new TempDir();
        // features.0.weight: a transposed view (strides permuted) at offset 5 into a shared storage;
        // features.0.bias: 4 elements with stride 2 into the same storage; features.2: half precision.
        var shared = TestData.Uniform(31, 200);
        long[] size = [4, 3, 3, 3];
        long[] stride = [1, 4 * 9, 4 * 3, 4];   // storage holds [i, h, w, o] at offset 5
        var half = TestData.Uniform(32, 5 * 4 * 9);
        var tensors = new List<FakeTensor>
        {
            new("features.0.weight", size, shared, Offset: 5, Stride: stride),
            new("features.0.bias", [4], shared, Offset: 150, Stride: [2]),
            new("features.2.weight", [5, 4, 3, 3], half, StorageType: "HalfStorage"),
        };
        foreach (var (path, write) in new (string, Action<string>)[]
                 {
                     (dir.File("views.pth"), p => WriteZip(p, tensors)),
                     (dir.File("views-legacy.pth"), p => WriteLegacy(p, tensors)),
                 })
        {
            write(path);
            var t = WeightsConverter.ReadSource(path).Tensors.ToDictionary(x => x.Name);
            var w = t["conv1_1.weight"].Data;
            for (int o = 0; o < 4; o++)
            for (int i = 0; i < 3; i++)
            for (int h = 0; h < 3; h++)
            for (int x = 0; x < 3; x++)
                Assert.Equal(shared[5 + o * stride[0] + i * stride[1] + h * stride[2] + x * stride[3]], w[((o * 3 + i) * 3 + h) * 3 + x]);
            Assert.Equal([shared[150], shared[152], shared[154], shared[156]], t["conv1_1.bias"].Data);
            Assert.Equal(SourcePrecision.Float16, t["conv1_2.weight"].Precision);
            Assert.Equal(half.Select(v => (float)(Half)v), t["conv1_2.weight"].Data);
        }
    }

    [Fact]
    public void FullSizeFakeConvertsToAllSixteenLayersInOrder()
    {
        using var dir = new TempDir();
        var path = dir.File("vgg19-fake.pth");
        WriteLegacy(path, FakeVgg19());
        var r = WeightsConverter.Convert([path]);
        Assert.Equal(16, r.Layers.Count);
        for (int k = 0; k < 16; k++)
        {
            var l = r.Layers[k];
            Assert.Equal(Vgg19Layout.ConvLayers[k], l.Layer);
            Assert.Equal(k + 1, l.Weight.Data[0]);          // features.{index of layer k} carries marker k+1
            Assert.Equal(-(k + 1), l.Bias.Data[^1]);
            Assert.Equal("vgg19-fake.pth float32", l.Weight.Source);
        }
        Assert.Equal(Preprocessing.TorchvisionImagenet, r.Weights.Preprocessing);
    }

    /// <summary>torchvision-named VGG19 with real shapes; layer k's tensors are filled with k+1 (weight) and −(k+1) (bias).</summary>
    public static List<FakeTensor> FakeVgg19()
    {
        int[] index = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
        var list = new List<FakeTensor>();
        for (int k = 0; k < 16; k++)
        {
            var l = Vgg19Layout.ConvLayers[k];
            var w = new float[l.Cout * l.Cin * 9];
            Array.Fill(w, k + 1);
            var b = new float[l.Cout];
            Array.Fill(b, -(k + 1));
            list.Add(Dense($"features.{index[k]}.weight", w, l.Cout, l.Cin, 3, 3));
            list.Add(Dense($"features.{index[k]}.bias", b, l.Cout));
        }
        list.Add(Dense("classifier.0.weight", new float[8], 2, 4));
        return list;
    }

    // ---- damaged files: one-line WeightsFormatException naming the file ----

    private string ReadFails(string path, string expected)
    {
        var e = Assert.Throws<WeightsFormatException>(() => WeightsConverter.ReadSource(path));
        log.WriteLine(e.Message);
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void TruncatedZipIsRejected()
    {
        using var dir = new TempDir();
        var path = dir.File("cut.pth");
        WriteZip(path, TwoLayers());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);   // loses the central directory
        ReadFails(path, "not a readable zip archive");
    }

    [Fact]
    public void GarbledPickleIsRejected()
    {
        using var dir = new TempDir();
        var good = dir.File("good.pth");
        WriteZip(good, TwoLayers());
        var pkl = ExtractPickle(good);

        var unknownOp = (byte[])pkl.Clone();
        unknownOp[2] = 0xFF;   // first opcode after PROTO 2
        ReadFails(ReplacePickle(dir, good, unknownOp), "unsupported pickle opcode 0xFF");

        ReadFails(ReplacePickle(dir, good, pkl[..(pkl.Length / 2)]), "truncated");

        var noStop = pkl[..^1];
        ReadFails(ReplacePickle(dir, good, noStop), "ends before the pickle's STOP opcode");

        byte[] badGet = [0x80, 2, (byte)'h', 250, (byte)'.'];   // BINGET of a memo slot never stored
        ReadFails(ReplacePickle(dir, good, badGet), "memo key 250 was never stored");
    }

    [Fact]
    public void MissingStorageAndTruncatedLegacyDataAreRejected()
    {
        using var dir = new TempDir();
        var path = dir.File("nostorage.pth");
        WriteZip(path, TwoLayers());
        using (var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update))
            zip.GetEntry("archive/data/1")!.Delete();
        ReadFails(path, "lacks archive/data/1");

        var legacy = dir.File("legacy.pth");
        WriteLegacy(legacy, TwoLayers());
        var bytes = File.ReadAllBytes(legacy);
        File.WriteAllBytes(legacy, bytes[..^10]);
        ReadFails(legacy, "truncated");
    }

    [Fact]
    public void OtherFormatsAreRecognisedAndRefusedClearly()
    {
        using var dir = new TempDir();
        var h5 = dir.File("vgg19.h5");
        File.WriteAllBytes(h5, [0x89, (byte)'H', (byte)'D', (byte)'F', 13, 10, 26, 10]);
        ReadFails(h5, "see weights/README.md");
        var junk = dir.File("junk.bin");
        File.WriteAllBytes(junk, [1, 2, 3, 4, 5]);
        ReadFails(junk, "unrecognised weights format");
        var pickleNotTorch = dir.File("plain.pth");
        File.WriteAllBytes(pickleNotTorch, [0x80, 2, (byte)'K', 5, (byte)'.']);
        ReadFails(pickleNotTorch, "not with torch's magic number");
        ReadFails(dir.File("absent.pth"), "no such file or folder");
    }

    private static byte[] ExtractPickle(string path)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(path);
        using var s = zip.GetEntry("archive/data.pkl")!.Open();
        using var ms = new MemoryStream();
        s.CopyTo(ms);
        return ms.ToArray();
    }

    private static string ReplacePickle(TempDir dir, string good, byte[] pickle)
    {
        var path = dir.File($"bad-{Guid.NewGuid():N}.pth");
        File.Copy(good, path);
        using var zip = System.IO.Compression.ZipFile.Open(path, System.IO.Compression.ZipArchiveMode.Update);
        zip.GetEntry("archive/data.pkl")!.Delete();
        using var s = zip.CreateEntry("archive/data.pkl").Open();
        s.Write(pickle);
        return path;
    }
}
