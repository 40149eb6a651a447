// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Forward convolution kernels (cross-correlation, zero padding, batch 1):
//   y[o, oy, ox] = b[o] + Σ_i Σ_kh Σ_kw w[o, i, kh, kw] · x[i, oy·SH + kh − PH, ox·SW + kw − PW]
public static partial class Conv2d
{
    /// <summary>Channels each thread of the tiled kernels accumulates in registers (a0..a3).</summary>
    internal const int ChannelsPerThread = 4;

    /// <summary>
    /// Tiled kernel. A group of T×T threads (T = gpu.Tile; threads along x = output width, so global reads
    /// are coalesced) computes a T×T block of output pixels for <see cref="ChannelsPerThread"/> output
    /// channels (grid z). Input channels are walked in chunks of <paramref name="inBlock"/>: each chunk's
    /// zero-padded input patch ((T−1)·S + K per axis) and the matching weights go to shared memory, then
    /// every thread accumulates its pixel for its 4 output channels from shared memory only.
    /// </summary>
    private static void ForwardTiledKernel(ConvGeometry g, int inBlock, View x, View w, View bias, int hasBias, int relu, View y)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tile = Group.DimX;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tid = ty * tile + tx, threads = tile * tile;
        int ox0 = Grid.IdxX * tile, oy0 = Grid.IdxY * tile, o0 = Grid.IdxZ * ChannelsPerThread;
        int ox = ox0 + tx, oy = oy0 + ty;

        int patchH = g.InputPatchH(tile), patchW = g.InputPatchW(tile), patch = patchH * patchW;
        int taps = g.Taps;
        int iy0 = oy0 * g.SH - g.PH, ix0 = ox0 * g.SW - g.PW;
        var xs = shared.SubView(0, inBlock * patch);
        var ws = shared.SubView(inBlock * patch, ChannelsPerThread * inBlock * taps);
        int xBase = ty * g.SH * patchW + tx * g.SW;

        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int i0 = 0; i0 < g.Cin; i0 += inBlock)
        {
            int n = IntrinsicMath.Min(inBlock, g.Cin - i0);

            // xs[c, py, px] = x[i0 + c, iy0 + py, ix0 + px], 0 outside the image.
            for (int e = tid; e < n * patch; e += threads)
            {
                int c = e / patch, r = e - c * patch;
                int py = r / patchW, px = r - py * patchW;
                int iy = iy0 + py, ix = ix0 + px;
                xs[e] = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[((i0 + c) * g.H + iy) * g.W + ix] : 0f;
            }

            // ws[j, c, k] = w[o0 + j, i0 + c, k]; each j row is one contiguous run of global memory.
            int wStride = n * taps;
            for (int e = tid; e < ChannelsPerThread * wStride; e += threads)
            {
                int j = e / wStride, r = e - j * wStride;
                int o = o0 + j;
                ws[e] = o < g.Cout ? w[(o * g.Cin + i0) * taps + r] : 0f;
            }
            Group.Barrier();

            for (int c = 0; c < n; c++)
            {
                int xc = c * patch + xBase, wc = c * taps;
                for (int kh = 0; kh < g.KH; kh++)
                {
                    int xr = xc + kh * patchW, wr = wc + kh * g.KW;
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        float xv = xs[xr + kw];
                        int k = wr + kw;
                        a0 += xv * ws[k];
                        a1 += xv * ws[k + wStride];
                        a2 += xv * ws[k + 2 * wStride];
                        a3 += xv * ws[k + 3 * wStride];
                    }
                }
            }
            Group.Barrier();
        }

        if (ox >= g.OutW || oy >= g.OutH) return;
        int plane = g.OutPlane, pixel = oy * g.OutW + ox;
        if (o0 < g.Cout) y[o0 * plane + pixel] = BiasRelu(a0, bias, o0, hasBias, relu);
        if (o0 + 1 < g.Cout) y[(o0 + 1) * plane + pixel] = BiasRelu(a1, bias, o0 + 1, hasBias, relu);
        if (o0 + 2 < g.Cout) y[(o0 + 2) * plane + pixel] = BiasRelu(a2, bias, o0 + 2, hasBias, relu);
        if (o0 + 3 < g.Cout) y[(o0 + 3) * plane + pixel] = BiasRelu(a3, bias, o0 + 3, hasBias, relu);
    }

    // v + b[o] (if hasBias), then max(·, 0) (if relu).
    private static float BiasRelu(float v, View bias, int o, int hasBias, int relu)
    {
        if (hasBias != 0) v += bias[o];
        return relu != 0 ? IntrinsicMath.Max(v, 0f) : v;
    }
}
