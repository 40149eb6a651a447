using System.Text;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Tests.Weights;
using SkiaSharp;
using static IlgpuStyle.Tests.Weights.TorchSaveWriter;

namespace IlgpuStyle.Fuzz;

/// <summary>
/// The seed corpus, made by the project's own writers (IlgwWriter, the tests' torch.save and TF.js writers) and by
/// SkiaSharp's encoders: small valid files (a few KB) of every variant the readers handle, so afl starts from inputs
/// that reach deep into each parser.
/// </summary>
public static class Seeds
{
    public static void Write(string root)
    {
        var rng = new Random(15);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();

        // .ilgw: two small conv layers, f32 and f16.
        var ilgw = Dir(root, "ilgw");
        var weights = new VggWeights(
            [
                new WeightTensor("conv1_1.weight", [2, 3, 3, 3], Values(54), "seed"),
                new WeightTensor("conv1_1.bias", [2], Values(2), "seed"),
                new WeightTensor("conv1_2.weight", [2, 2, 1, 1], Values(4), "seed"),
            ],
            Preprocessing.TorchvisionImagenet, "fuzz seed");
        weights.Save(Path.Combine(ilgw, "f32.ilgw"), StorageDType.F32);
        weights.Save(Path.Combine(ilgw, "f16.ilgw"), StorageDType.F16);

        // .pth: zip and legacy containers, a strided view and a half storage.
        var pth = Dir(root, "pth");
        List<FakeTensor> tensors =
        [
            Dense("features.0.weight", Values(54), 2, 3, 3, 3),
            Dense("features.0.bias", Values(2), 2),
            new("features.2.weight", [2, 2, 1, 1], Values(8), Offset: 1, Stride: [2, 4, 1, 1]),
            new("features.2.bias", [2], Values(2), StorageType: "HalfStorage"),
        ];
        WriteZip(Path.Combine(pth, "zip.pth"), tensors);
        WriteZip(Path.Combine(pth, "zip-wrapped.pth"), tensors[..2], wrapInStateDictKey: true);
        WriteLegacy(Path.Combine(pth, "legacy.pth"), tensors[..2]);
        WriteLegacy(Path.Combine(pth, "legacy-py3.pth"), tensors[..2], python2Strings: false);

        // TF.js: model.json NUL shard1 |SHARD| shard2 … (the harness's input layout); float32, uint8, float16.
        var tfjs = Dir(root, "tfjs");
        TfjsSeed(Path.Combine(tfjs, "float32-2shards"), new TfjsTestModel().Group(shardBytes: 128)
            .Float32("vgg19/block1_conv1/kernel", [3, 3, 3, 2], Values(54))
            .Float32("vgg19/block1_conv1/bias", [2], Values(2)));
        TfjsSeed(Path.Combine(tfjs, "quantized"), new TfjsTestModel().Group()
            .Quantized("block1_conv1/kernel", [3, 3, 3, 2], Values(54), 8, out _, out _)
            .Quantized("block1_conv1/bias", [2], Values(2), 16, out _, out _)
            .Float16Quantized("block1_conv2/bias", [2], Values(2)));

        // .caffemodel: the three layer formats, every blob style, a layer that is skipped (fc6).
        var caffe = Dir(root, "caffe");
        new CaffeModelWriter().Conv("conv1_1", [2, 3, 3, 3], Values(54), Values(2))
            .Other("fc6", "InnerProduct", CaffeModelWriter.Format.V2, Values(8))
            .Save(Path.Combine(caffe, "v2.caffemodel"));
        new CaffeModelWriter().Conv("conv1_1", [2, 3, 3, 3], Values(54), Values(2), CaffeModelWriter.Format.V1, CaffeModelWriter.BlobStyle.Legacy4D)
            .Conv("conv1_2", [2, 2, 1, 1], Values(4), Values(2), CaffeModelWriter.Format.V1, CaffeModelWriter.BlobStyle.UnpackedFloats)
            .Other("relu1_2", "ReLU", CaffeModelWriter.Format.V1)
            .Save(Path.Combine(caffe, "v1.caffemodel"));
        new CaffeModelWriter().Conv("conv1_1", [2, 3, 1, 1], Values(6), Values(2), CaffeModelWriter.Format.V0, CaffeModelWriter.BlobStyle.Doubles)
            .Save(Path.Combine(caffe, "v0.caffemodel"));

        // Images: PNG (with alpha), JPEG, WebP, 16×12.
        var image = Dir(root, "image");
        using var bitmap = new SKBitmap(new SKImageInfo(16, 12, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < 12; y++)
            for (int x = 0; x < 16; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(16 * x), (byte)(20 * y), (byte)(x * y), (byte)(x == 0 ? 128 : 255)));
        using var img = SKImage.FromBitmap(bitmap);
        foreach (var (format, ext, quality) in new[] { (SKEncodedImageFormat.Png, "png", 100), (SKEncodedImageFormat.Jpeg, "jpg", 80), (SKEncodedImageFormat.Webp, "webp", 80) })
        {
            using var data = img.Encode(format, quality);
            File.WriteAllBytes(Path.Combine(image, $"seed.{ext}"), data.ToArray());
        }
    }

    private static string Dir(string root, string name) => Directory.CreateDirectory(Path.Combine(root, name)).FullName;

    /// <summary>Writes the model to a scratch folder, renames its shards to the harness's shardN.bin and packs it as one input.</summary>
    private static void TfjsSeed(string file, TfjsTestModel model)
    {
        var scratch = Directory.CreateTempSubdirectory("ilgpu-style-seed-").FullName;
        try
        {
            var names = model.Write(scratch).SelectMany(g => g).ToList();
            var json = File.ReadAllText(Path.Combine(scratch, "model.json"));
            for (int i = 0; i < names.Count; i++) json = json.Replace($"\"{names[i]}\"", $"\"shard{i + 1}.bin\"");
            using var fs = File.Create(file);
            fs.Write(Encoding.UTF8.GetBytes(json));
            fs.WriteByte(0);
            for (int i = 0; i < names.Count; i++)
            {
                if (i > 0) fs.Write(Harness.ShardMarker);
                fs.Write(File.ReadAllBytes(Path.Combine(scratch, names[i])));
            }
        }
        finally { Directory.Delete(scratch, recursive: true); }
    }
}
