namespace IlgpuStyle.Kernels;

/// <summary>A device allocation failed for lack of memory (real, or past the configured cap).</summary>
public sealed class DeviceOutOfMemoryException : Exception
{
    public DeviceOutOfMemoryException(string device, long requested, long live, long? limit, Exception? inner = null)
        : base($"out of memory on {device}: needed {ByteSize.Format(requested)} more with {ByteSize.Format(live)} in use" +
               (limit is long l ? $" (limit {ByteSize.Format(l)})" : "") + ".", inner)
    {
        RequestedBytes = requested;
    }

    public long RequestedBytes { get; }

    /// <summary>
    /// Whether <paramref name="e"/> is a device (or host, for the CPU accelerator) allocation failure: .NET's
    /// OutOfMemoryException, OpenCL's CL_MEM_OBJECT_ALLOCATION_FAILURE / CL_OUT_OF_RESOURCES / CL_OUT_OF_HOST_MEMORY /
    /// CL_INVALID_BUFFER_SIZE (one buffer above the device's largest allocation), CUDA's CUDA_ERROR_OUT_OF_MEMORY —
    /// read from the exception's error code where ILGPU gives one, else from its message.
    /// </summary>
    public static bool IsOutOfMemory(Exception e)
    {
        if (e is OutOfMemoryException or DeviceOutOfMemoryException) return true;
        string code = e switch
        {
            ILGPU.Runtime.OpenCL.CLException cl => cl.Error.ToString(),
            ILGPU.Runtime.Cuda.CudaException cuda => cuda.Error.ToString(),
            _ => "",
        };
        string text = code + " " + e.Message;
        return OutOfMemoryCodes.Any(c => text.Contains(c, StringComparison.OrdinalIgnoreCase));
    }

    private static readonly string[] OutOfMemoryCodes =
        ["OUT_OF_MEMORY", "OutOfMemory", "MEM_OBJECT_ALLOCATION_FAILURE", "OUT_OF_RESOURCES", "OUT_OF_HOST_MEMORY", "INVALID_BUFFER_SIZE"];
}
