using IlgpuStyle.Cli.Imaging;
using IlgpuStyle.Cli.Stylize;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// Turns the errors a user can cause into one line on stderr and an exit code:
/// 2 = bad input (image, option, layer name, weights), 3 = device (unknown device, out of memory).
/// Anything else is a bug and keeps its stack trace (exit code 1).
/// </summary>
public static class CliErrors
{
    public const int BadInput = 2;
    public const int DeviceProblem = 3;

    public static int Run(Func<int> action, TextWriter? stderr = null)
    {
        var err = stderr ?? Console.Error;
        try
        {
            return action();
        }
        catch (DeviceOutOfMemoryException e)
        {
            err.WriteLine($"error: {e.Message} Try a smaller --size, fewer --scales, or --optimizer adam (less memory than L-BFGS).");
            return DeviceProblem;
        }
        catch (DeviceSelectionException e)
        {
            err.WriteLine($"error: {e.Message}");
            return DeviceProblem;
        }
        catch (Exception e) when (e is ImageLoadException or ImageWriteException or StylizeUsageException or UnknownLayerException
                                      or WeightsFormatException or WeightsNotFoundException or WeightsDownloadException)
        {
            err.WriteLine($"error: {OneLine(e.Message)}");
            return BadInput;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
