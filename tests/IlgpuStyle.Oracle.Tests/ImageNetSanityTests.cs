using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Tests;
using IlgpuStyle.TorchReference;
using Xunit;

namespace IlgpuStyle.Oracle.Tests;

/// <summary>
/// Evidence that the converted weights are the trained ImageNet VGG19 and not merely tensors of the right shapes:
/// its deep features recognise a scene. Two different crops of the same photograph (85% squares from opposite
/// corners, overlapping in about a third of their area) give relu5_1 Gram matrices (512×512, channel co-activations)
/// with a clearly higher cosine similarity than any crop of a different image does. (Channel-wise spatial means were
/// tried first: they separate the images far less, e.g. 0.88 vs 0.77 for tubingen, 0.80 vs 0.79 for the_scream.)
/// As a control, the same weights with their values shuffled within each tensor (same value statistics, no trained
/// structure) must not show that margin — their features barely depend on the image (all cosines ≈ 1) — so the
/// assertion really depends on the training.
/// Runs on the libtorch reference (fast); Vgg19OracleTests proves that our network computes the same features.
/// </summary>
[Collection(OracleCollection.Name)]
public class ImageNetSanityTests(OracleData data, ITestOutputHelper log)
{
    private const int Size = 224;
    private const double Margin = 0.15;
    private const double CropFraction = 0.85;
    private static readonly string[] Photos = ["tubingen.jpg", "golden_gate.jpg", "brad_pitt.jpg"];
    private static readonly string[] Paintings = ["starry_night.jpg", "shipwreck.jpg", "the_scream.jpg", "woman-with-hat-matisse.jpg"];

    [Fact]
    public void Relu5GramsOfTwoCropsOfOnePhotoAreFarCloserThanThoseOfDifferentImages()
    {
        var images = Crops();
        var trained = Margins(data.Torch, images, "trained");
        foreach (var (photo, margin) in trained)
            Assert.True(margin > Margin, $"{photo}: same-photo similarity exceeds the best other image by only {margin:F3} (want > {Margin})");

        using var shuffled = new TorchVgg19(Shuffled(data.Weights, seed: 1));
        var control = Margins(shuffled, images, "shuffled (control)");
        foreach (var (photo, margin) in control)
            Assert.True(margin < Margin, $"control: untrained weights reach margin {margin:F3} on {photo}: the test does not measure training");
    }

    /// <summary>For each photo: cos(crop A, crop B) − max over both crops and every crop of another image of cos(crop, other).</summary>
    private Dictionary<string, double> Margins(TorchVgg19 net, Dictionary<string, RgbImage> images, string label)
    {
        var features = images.ToDictionary(kv => kv.Key, kv => Gram(net.Activations(kv.Value.Data, Size, Size, ["relu5_1"])["relu5_1"]));
        var margins = new Dictionary<string, double>();
        foreach (var photo in Photos)
        {
            double same = Cosine(features[$"{photo} A"], features[$"{photo} B"]);
            var different = new List<(string, double)>();
            foreach (var other in images.Keys.Where(k => !k.StartsWith(photo + " ")))
            foreach (var crop in new[] { "A", "B" })
                different.Add(($"{photo} {crop} vs {other}", Cosine(features[$"{photo} {crop}"], features[other])));
            var (worst, best) = different.MaxBy(d => d.Item2);
            margins[photo] = same - best;
            log.WriteLine($"{label}: cos({photo} A, B) = {same:F3}; different images: mean {different.Average(d => d.Item2):F3}, " +
                          $"max {best:F3} ({worst}); margin {same - best:F3}");
        }
        return margins;
    }

    /// <summary>Two square crops of every image, top-left and bottom-right, each 85% of the short side, resized to 224×224.</summary>
    private Dictionary<string, RgbImage> Crops()
    {
        var dir = SharedData.RequireOrSkip("images");
        var result = new Dictionary<string, RgbImage>();
        foreach (var name in Photos.Concat(Paintings))
        {
            var image = ImageLoader.Load(Path.Combine(dir, name));
            int side = (int)(CropFraction * Math.Min(image.Width, image.Height));
            result[$"{name} A"] = Square(image, 0, 0, side);
            result[$"{name} B"] = Square(image, image.Width - side, image.Height - side, side);
        }
        return result;
    }

    private static RgbImage Square(RgbImage image, int left, int top, int side)
    {
        var crop = new RgbImage(side, side);
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            crop[c, y, x] = image[c, top + y, left + x];
        return ImageResizer.Resize(crop, Size, Size);
    }

    /// <summary>G[c, d] = Σ_positions F[c]·F[d] of a 1×C×H×W activation, in double (its scale does not matter for a cosine).</summary>
    private static double[] Gram(float[] activation)
    {
        const int channels = 512;
        int plane = activation.Length / channels;
        var gram = new double[channels * channels];
        for (int c = 0; c < channels; c++)
        for (int d = c; d < channels; d++)
        {
            double sum = 0;
            for (int i = 0; i < plane; i++) sum += (double)activation[c * plane + i] * activation[d * plane + i];
            gram[c * channels + d] = gram[d * channels + c] = sum;
        }
        return gram;
    }

    private static double Cosine(double[] a, double[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    /// <summary>The same tensors with their values randomly permuted within each tensor: trained statistics, no trained structure.</summary>
    private static VggWeights Shuffled(VggWeights weights, int seed)
    {
        var rng = new Random(seed);
        var tensors = weights.Ordered.Select(t =>
        {
            var values = (float[])t.Data.Clone();
            rng.Shuffle(values);
            return new WeightTensor(t.Name, t.Dims, values, t.Source + " shuffled");
        });
        return new VggWeights(tensors, weights.Preprocessing, weights.ConvertedFrom + " (values shuffled)");
    }
}
