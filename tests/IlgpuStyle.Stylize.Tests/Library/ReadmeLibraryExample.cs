// The library example of README.md, verbatim between the README markers (LibraryExampleTests checks both).
// README: begin
using IlgpuStyle.Autodiff;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;

public static class MyStyleTransfer
{
    /// <summary>Paints <paramref name="photo"/> in the style of <paramref name="painting"/>, all in memory.</summary>
    public static RgbImage Paint(RgbImage photo, RgbImage painting, string weightsFile,
        int size = 512, int iterations = 200, string device = "auto", CancellationToken cancel = default)
    {
        using var gpu = DeviceCatalog.Open(device);                  // or a Gpu your program already holds
        var loss = new LossSettings { StyleWeight = 100 };           // layers and α, β, γ (CLI defaults)
        using var vgg19 = new Vgg19(gpu, VggWeights.Load(weightsFile), PoolingKind.Max, loss.Layers);
        var run = new RunSettings { Size = size, Iterations = iterations };  // scales, optimizer, init, seed …
        StylizeResult result = Stylizer.Run(vgg19, photo, [new StyleImage(painting)], loss, run,
            observer: null, cancel);                                 // an IStylizeObserver sees every iteration
        return result.Image;                                         // planar RGB floats in 0..1
    }
}
// Files in, file out:
//   var image = MyStyleTransfer.Paint(ImageLoader.Load("photo.jpg"), ImageLoader.Load("painting.jpg"), "vgg19.ilgw");
//   ImageWriter.Save(image, "out.png");                              // atomic: temp file, then rename
// README: end
