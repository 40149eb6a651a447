using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using IlgpuStyle.Kernels;
using IlgpuStyle.Network;
using IlgpuStyle.Network.Weights;
using IlgpuStyle.Stylize;
using IlgpuStyle.Stylize.Imaging;
using IlgpuStyle.Stylize.Tiling;

namespace IlgpuStyle.Cli.Commands;

/// <summary>
/// The one error convention of every command: the errors a user can cause become one line on stderr
/// (<c>error: …</c>) and an exit code — 2 = bad input (option, image, layer name, weights, a file that cannot be
/// read or written), 3 = device (unknown device, out of memory). Anything else is a bug and keeps its stack trace
/// (exit code 1).
/// </summary>
public static class CliErrors
{
    public const int Ok = 0;
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
            Console.Out.Flush();
            err.WriteLine($"error: {OneLine(e.Message)} Try a smaller --size, a --max-memory below the device's free memory (the run is then planned in tiles), or --optimizer adam.");
            return DeviceProblem;
        }
        catch (Exception e) when (DeviceOutOfMemoryException.IsOutOfMemory(e))
        {
            // An allocation the device refused after the buffer was made (lazy allocation at first use).
            Console.Out.Flush();
            err.WriteLine($"error: out of device memory: {OneLine(e.Message)} Try a smaller --size or ILGPU_STYLE_MAX_MEMORY.");
            return DeviceProblem;
        }
        catch (MemoryBudgetException e)
        {
            Console.Out.Flush();
            err.WriteLine($"error: {OneLine(e.Message)} Use --max-memory {(e.NeededBytes + (1L << 20) - 1) >> 20}M or more (if the device has it), or a smaller --size.");
            return DeviceProblem;
        }
        catch (DeviceSelectionException e)
        {
            Console.Out.Flush();
            err.WriteLine($"error: {OneLine(e.Message)}");
            return DeviceProblem;
        }
        catch (AcceleratorException e)
        {
            // The driver refused something (a build the device's compiler rejects, a device lost, an environment that
            // breaks the driver such as a bad POCL_EXTRA_BUILD_FLAGS): a device problem, said in one line with where.
            Console.Out.Flush();
            err.WriteLine($"error: {DriverFailure(e)}");
            return DeviceProblem;
        }
        catch (Exception e) when (e is UsageException or RunFailedException or ImageLoadException or ImageWriteException or StylizeUsageException
                                      or UnknownLayerException or WeightsFormatException or WeightsNotFoundException
                                      or WeightsDownloadException or TuningPlanException or AutotuneModeException or ByteSizeException or IOException or UnauthorizedAccessException)
        {
            Console.Out.Flush();
            err.WriteLine($"error: {OneLine(e.Message)}");
            return BadInput;
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    /// <summary>"the OpenCL driver failed (CL_… in CLAccelerator.InitVendorFeatures); …" — ILGPU's own messages say nothing.</summary>
    internal static string DriverFailure(AcceleratorException e)
    {
        var (driver, code) = e switch
        {
            CLException cl => ("OpenCL", cl.Error.ToString()),
            CudaException cuda => ("CUDA", cuda.Error.ToString()),
            _ => (e.AcceleratorType.ToString(), e.GetType().Name),
        };
        // Where: the first frame outside the exception's own throw helper (ThrowIfFailed).
        var method = new System.Diagnostics.StackTrace(e).GetFrames()
            .Select(f => f.GetMethod()).FirstOrDefault(m => m is not null && !typeof(Exception).IsAssignableFrom(m.DeclaringType));
        var site = method is null ? "" : $" in {method.DeclaringType?.Name}.{method.Name}";
        return $"the {driver} driver failed ({code}{site}). Check the driver and its environment variables " +
               "(POCL_*, CUDA_*), or choose another --device ('ilgpu-style devices' lists them).";
    }
}

/// <summary>The run could not go on with these options (e.g. the loss diverged); what could be kept was written (exit code 2).</summary>
public sealed class RunFailedException(string message) : Exception(message);

/// <summary>A bad option value or combination, found by a command before any work (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
