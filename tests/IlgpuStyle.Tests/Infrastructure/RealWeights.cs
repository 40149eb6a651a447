using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Tests;

/// <summary>
/// The hybrid VGG19 weights (float32 conv1_1..conv3_4 + dequantized uint8 conv4_1..conv5_4) converted from
/// shared/vgg19 once per test run into a temporary .ilgw file, exactly as a user's `weights convert` does.
/// Skips (fails under CI=true) when shared/vgg19 is absent.
/// </summary>
public static class RealWeights
{
    private static readonly Lazy<string> File = new(Convert);

    public static string Path
    {
        get
        {
            SharedData.RequireOrSkip("vgg19");
            return File.Value;
        }
    }

    private static string Convert()
    {
        var dir = SharedData.Vgg19Dir!;
        var result = WeightsConverter.Convert([
            System.IO.Path.Combine(dir, "keras-tfjs-f32-conv1-3"),
            System.IO.Path.Combine(dir, "keras-tfjs-uint8"),
        ]);
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ilgpu-style-tests-{Environment.ProcessId}.ilgw");
        result.Weights.Save(path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => System.IO.File.Delete(path);
        return path;
    }
}
