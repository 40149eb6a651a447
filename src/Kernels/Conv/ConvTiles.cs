using System.Globalization;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

/// <summary>The two implicit-GEMM kernels of the 3×3 fast path (see doc/PERFORMANCE.md for why there are two).</summary>
public enum ConvKernelKind
{
    /// <summary>
    /// No shared memory, no barriers: each work-item keeps an 8-output-channel × 8-pixel block in registers and
    /// reads weights and a zero-padded copy of the input straight from global memory (caches are the tile store).
    /// Both operands of the block are contiguous, so CPU OpenCL compilers turn each work-item into 8-wide SIMD.
    /// </summary>
    RegisterBlocked,

    /// <summary>
    /// Classic GPU tiling: the group stages an input patch and a weight block in shared memory between barriers;
    /// each work-item accumulates a 4-channel × 4-row block; consecutive work-items read consecutive addresses.
    /// </summary>
    SharedTiles,
}

/// <summary>
/// Blocking of the 3×3 stride-1 padding-1 fast path of <see cref="Conv2d"/>: which kernel, the group shape
/// <see cref="GroupX"/>×<see cref="GroupY"/> (work-items along x cover consecutive pixels, along y output
/// channels), and for <see cref="ConvKernelKind.SharedTiles"/> the input channels staged per step
/// (<see cref="InputChunk"/>). The group shape and chunk are compile-time constants of the generated kernel
/// (ILGPU kernel specialization), so its loops have constant trip counts.
/// </summary>
public readonly record struct ConvTiles(ConvKernelKind Kind, int GroupX, int GroupY, int InputChunk)
{
    /// <summary>Output channels one work-item of the register-blocked kernel accumulates.</summary>
    public const int BlockedChannels = 16;

    /// <summary>Consecutive output pixels (along x) one work-item of the register-blocked kernel accumulates.</summary>
    public const int BlockedPixels = 8;

    /// <summary>Output channels / rows one work-item of the shared-tiles kernel accumulates (a 4×4 block).</summary>
    public const int SharedBlock = 4;

    /// <summary>Output channels per group.</summary>
    public int GroupChannels => GroupY * (Kind == ConvKernelKind.RegisterBlocked ? BlockedChannels : SharedBlock);

    /// <summary>Shared-tiles kernel: floats of the shared input patch, InputChunk × (4 + 2) × (GroupX + 2).</summary>
    public int PatchFloats => InputChunk * (SharedBlock + 2) * (GroupX + 2);

    /// <summary>Shared-tiles kernel: floats of the shared weight block, InputChunk·9 × GroupChannels.</summary>
    public int WeightFloats => InputChunk * 9 * GroupChannels;

    /// <summary>Input-channel steps the shared-tiles kernel is written for (each an unrolled sequence of channels).</summary>
    public static readonly int[] SupportedInputChunks = [1, 2, 4, 8];

    /// <summary>
    /// The table of defaults. CPU devices (OpenCL on a CPU, e.g. PoCL; the ILGPU CPU simulator): register-blocked,
    /// 2×8 work-items (16 pixels × 64 channels per group: the 8 work-items of a column read the same input values,
    /// which stay in L1; measured on PoCL ~25 % faster than 4×4, on par with 1×8 … 4×16). GPUs (CUDA, OpenCL GPUs): shared tiles, 16×16
    /// work-items (half a 32-wide warp along x), 8 input channels per step: a 64-channel × 4×16-pixel block,
    /// 22 KiB of the kernel's 26 KiB of static shared arrays. A GPU allowing fewer than 256 work-items per group gets
    /// 8×8 and 4 channels per step.
    /// </summary>
    public static ConvTiles Default(AcceleratorType type, bool cpuDevice, int maxGroupSize)
    {
        if (type == AcceleratorType.CPU || cpuDevice)
            return new ConvTiles(ConvKernelKind.RegisterBlocked, 2, 8, 1);
        return maxGroupSize >= 256
            ? new ConvTiles(ConvKernelKind.SharedTiles, 16, 16, 8)
            : new ConvTiles(ConvKernelKind.SharedTiles, 8, 8, 4);
    }

    /// <summary>The blocking for <paramref name="accelerator"/>: <see cref="Default"/>, overridden by ILGPU_STYLE_TILES.</summary>
    public static ConvTiles For(Accelerator accelerator)
    {
        bool cpuDevice = accelerator is ILGPU.Runtime.OpenCL.CLAccelerator cl &&
                         cl.DeviceType == ILGPU.Runtime.OpenCL.CLDeviceType.CL_DEVICE_TYPE_CPU;
        int maxGroup = accelerator.MaxNumThreadsPerGroup;
        var tiles = Default(accelerator.AcceleratorType, cpuDevice, maxGroup);
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) tiles = Parse(env, tiles);
        tiles.Validate(maxGroup);
        return tiles;
    }

    /// <summary>Override for tuning, e.g. ILGPU_STYLE_TILES="kind=shared,gx=16,gy=8,ci=4" (any subset of kind, gx, gy, ci).</summary>
    public const string EnvironmentVariable = "ILGPU_STYLE_TILES";

    /// <summary>Reads "key=value" pairs (kind=blocked|shared, gx, gy, ci) over <paramref name="defaults"/>.</summary>
    public static ConvTiles Parse(string text, ConvTiles defaults)
    {
        var t = defaults;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2, StringSplitOptions.TrimEntries);
            string key = kv[0].ToLowerInvariant();
            if (kv.Length == 2 && key == "kind")
            {
                t = kv[1].ToLowerInvariant() switch
                {
                    "blocked" => t with { Kind = ConvKernelKind.RegisterBlocked },
                    "shared" => t with { Kind = ConvKernelKind.SharedTiles },
                    _ => throw new ArgumentException($"{EnvironmentVariable}: kind must be 'blocked' or 'shared', not '{kv[1]}'."),
                };
                continue;
            }
            if (kv.Length != 2 || !int.TryParse(kv[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
                throw new ArgumentException($"{EnvironmentVariable}: '{part}' is not key=value (keys: kind, gx, gy, ci).");
            t = key switch
            {
                "gx" => t with { GroupX = v },
                "gy" => t with { GroupY = v },
                "ci" => t with { InputChunk = v },
                _ => throw new ArgumentException($"{EnvironmentVariable}: unknown key '{kv[0]}' (keys: kind, gx, gy, ci)."),
            };
        }
        return t;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless the blocking fits the device and the kernels' static shared arrays.</summary>
    public void Validate(int maxGroupSize)
    {
        if (GroupX < 1 || GroupY < 1)
            throw new ArgumentException($"conv tiles {this}: group sizes must be ≥ 1.");
        if (GroupX * GroupY > maxGroupSize)
            throw new ArgumentException($"conv tiles {this}: {GroupX * GroupY} work-items per group exceed the device's {maxGroupSize}.");
        if (Kind != ConvKernelKind.SharedTiles) return;
        if (!SupportedInputChunks.Contains(InputChunk))
            throw new ArgumentException($"conv tiles {this}: ci must be one of {string.Join(", ", SupportedInputChunks)}.");
        if (GroupX * GroupY > Conv2d.MaxSharedGroup)
            throw new ArgumentException($"conv tiles {this}: the shared-tiles kernel supports at most {Conv2d.MaxSharedGroup} work-items per group.");
        if (PatchFloats > Conv2d.PatchSharedFloats || WeightFloats > Conv2d.WeightSharedFloats)
            throw new ArgumentException(
                $"conv tiles {this}: needs {PatchFloats} + {WeightFloats} shared floats, more than the kernel's " +
                $"{Conv2d.PatchSharedFloats} + {Conv2d.WeightSharedFloats}.");
    }

    public override string ToString() =>
        $"kind={(Kind == ConvKernelKind.RegisterBlocked ? "blocked" : "shared")},gx={GroupX},gy={GroupY},ci={InputChunk}";
}
