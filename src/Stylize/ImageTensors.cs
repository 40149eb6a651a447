using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Kernels;

namespace IlgpuStyle.Stylize;

/// <summary>RgbImage (planar RGB, 0..1) ↔ device tensor 1×3×H×W: the layouts are the same.</summary>
public static class ImageTensors
{
    public static Tensor ToDevice(Gpu gpu, RgbImage image) =>
        gpu.FromHost(Shape4.Image(3, image.Height, image.Width), image.Data);

    public static RgbImage ToHost(Tensor t)
    {
        if (t.Shape.C != 3 || t.Shape.N != 1)
            throw new ArgumentException($"ToHost: tensor of shape {t.Shape} is not an RGB image.");
        return new RgbImage(t.Shape.W, t.Shape.H, t.ToHost());
    }

    /// <summary>Gaussian noise around mid-grey, N(0.5, 0.15²), from <paramref name="seed"/> (host RNG: reproducible).</summary>
    public static RgbImage Noise(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var image = new RgbImage(width, height);
        for (int i = 0; i < image.Data.Length; i++)
        {
            // Box–Muller.
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double n = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            image.Data[i] = (float)Math.Clamp(0.5 + 0.15 * n, 0, 1);
        }
        return image;
    }
}
