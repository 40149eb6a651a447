using System.Runtime.InteropServices;
using System.Text;

namespace IlgpuStyle.Kernels;

/// <summary>
/// Device facts ILGPU 1.5.3 does not expose, asked from the OpenCL library directly (clGetDeviceInfo): whether the
/// device has hardware FMA (<see cref="MulAdd"/>) and its driver version (the autotuner's cache key: PoCL reports its
/// own version there, e.g. "6.0+debian", which the OpenCL versions ILGPU gives do not contain).
/// </summary>
internal static class OpenClDeviceQuery
{
    private const uint SingleFpConfig = 0x101B; // CL_DEVICE_SINGLE_FP_CONFIG
    private const ulong FpFma = 1 << 5;         // CL_FP_FMA
    private const uint DriverVersionInfo = 0x102D; // CL_DRIVER_VERSION

    /// <summary>CL_FP_FMA in CL_DEVICE_SINGLE_FP_CONFIG; false when it is absent or cannot be asked.</summary>
    public static bool HasFma(IntPtr deviceId)
    {
        try
        {
            return clGetDeviceInfo(deviceId, SingleFpConfig, (UIntPtr)sizeof(ulong), out ulong config, out _) == 0
                && (config & FpFma) != 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>CL_DRIVER_VERSION ("6.0+debian" for PoCL 6.0 on Debian); null when it cannot be asked.</summary>
    public static string? DriverVersion(IntPtr deviceId)
    {
        try
        {
            if (clGetDeviceInfo(deviceId, DriverVersionInfo, UIntPtr.Zero, IntPtr.Zero, out var size) != 0 || size == UIntPtr.Zero)
                return null;
            var buffer = new byte[(int)size];
            var handle = GCHandle.Alloc(buffer, GCHandleType.Pinned);
            try
            {
                if (clGetDeviceInfo(deviceId, DriverVersionInfo, size, handle.AddrOfPinnedObject(), out _) != 0) return null;
            }
            finally
            {
                handle.Free();
            }
            return Encoding.UTF8.GetString(buffer).TrimEnd('\0').Trim();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    [DllImport("OpenCL", EntryPoint = "clGetDeviceInfo")]
    private static extern int clGetDeviceInfo(IntPtr device, uint name, UIntPtr size, out ulong value, out UIntPtr sizeReturned);

    [DllImport("OpenCL", EntryPoint = "clGetDeviceInfo")]
    private static extern int clGetDeviceInfo(IntPtr device, uint name, UIntPtr size, IntPtr value, out UIntPtr sizeReturned);
}
