// Reference: tests/IlgpuStyle.Tests/Reference/ConvReference.cs · Test: tests/IlgpuStyle.Tests/Kernels/Conv2dTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Gradient with respect to the input (the transposed convolution), written as a gather so that every
// dx element is produced by exactly one thread (no atomics):
//   dx[i, iy, ix] = Σ_o Σ_kh Σ_kw w[o, i, kh, kw] · dy[o, oy, ox]
//   over the taps with oy·SH + kh − PH = iy and ox·SW + kw − PW = ix (oy, ox integral and inside dy).
public static partial class Conv2d
{
    /// <summary>
    /// A group of T×T threads (threads along x = input width) computes a T×T block of dx pixels for
    /// <see cref="ChannelsPerThread"/> input channels (grid z). Output channels are walked in chunks of
    /// <paramref name="outBlock"/>; each chunk's dy patch (the rows/columns of dy the block gathers from,
    /// zero outside dy) and the matching weights go to shared memory.
    /// </summary>
    private static void BackwardDataKernel(ConvGeometry g, int outBlock, View dy, View w, View dx, int accumulate)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tile = Group.DimX;
        int tx = Group.IdxX, ty = Group.IdxY;
        int tid = ty * tile + tx, threads = tile * tile;
        int x0 = Grid.IdxX * tile, y0 = Grid.IdxY * tile, i0 = Grid.IdxZ * ChannelsPerThread;
        int ix = x0 + tx, iy = y0 + ty;

        int patchH = g.GradPatchH(tile), patchW = g.GradPatchW(tile), patch = patchH * patchW;
        int taps = g.Taps;
        // First dy row/column any pixel of this block receives from (the smallest oy with oy·S ≥ y0 + P − K + 1).
        int oyLo = ConvGeometry.CeilDiv(y0 + g.PH - g.KH + 1, g.SH);
        int oxLo = ConvGeometry.CeilDiv(x0 + g.PW - g.KW + 1, g.SW);
        // Tap kh reaches patch row (baseY − kh) / SH when baseY − kh ≥ 0 is a multiple of SH; same for columns.
        int baseY = iy + g.PH - oyLo * g.SH, baseX = ix + g.PW - oxLo * g.SW;
        int khFirst = baseY >= 0 ? baseY % g.SH : g.KH;
        int kwFirst = baseX >= 0 ? baseX % g.SW : g.KW;
        var dys = shared.SubView(0, outBlock * patch);
        var ws = shared.SubView(outBlock * patch, ChannelsPerThread * outBlock * taps);

        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int o0 = 0; o0 < g.Cout; o0 += outBlock)
        {
            int n = IntrinsicMath.Min(outBlock, g.Cout - o0);

            // dys[c, qy, qx] = dy[o0 + c, oyLo + qy, oxLo + qx], 0 outside dy.
            for (int e = tid; e < n * patch; e += threads)
            {
                int c = e / patch, r = e - c * patch;
                int qy = r / patchW, qx = r - qy * patchW;
                int oy = oyLo + qy, ox = oxLo + qx;
                dys[e] = oy >= 0 && oy < g.OutH && ox >= 0 && ox < g.OutW ? dy[((o0 + c) * g.OutH + oy) * g.OutW + ox] : 0f;
            }

            // ws[j, c, k] = w[o0 + c, i0 + j, k]; reading e in order walks w[o0 + c, i0 .. i0 + 3, ·] contiguously.
            int run = ChannelsPerThread * taps, wStride = n * taps;
            for (int e = tid; e < n * run; e += threads)
            {
                int c = e / run, r = e - c * run;
                int j = r / taps, k = r - j * taps;
                ws[j * wStride + c * taps + k] = i0 + j < g.Cin ? w[((o0 + c) * g.Cin + i0) * taps + r] : 0f;
            }
            Group.Barrier();

            for (int c = 0; c < n; c++)
            {
                int dc = c * patch, wc = c * taps;
                for (int kh = khFirst; kh < g.KH && kh <= baseY; kh += g.SH)
                {
                    int dr = dc + (baseY - kh) / g.SH * patchW, wr = wc + kh * g.KW;
                    for (int kw = kwFirst; kw < g.KW && kw <= baseX; kw += g.SW)
                    {
                        float d = dys[dr + (baseX - kw) / g.SW];
                        int k = wr + kw;
                        a0 += d * ws[k];
                        a1 += d * ws[k + wStride];
                        a2 += d * ws[k + 2 * wStride];
                        a3 += d * ws[k + 3 * wStride];
                    }
                }
            }
            Group.Barrier();
        }

        if (ix >= g.W || iy >= g.H) return;
        int plane = g.H * g.W, pixel = iy * g.W + ix;
        if (i0 < g.Cin) Output.Store(dx, i0 * plane + pixel, a0, accumulate);
        if (i0 + 1 < g.Cin) Output.Store(dx, (i0 + 1) * plane + pixel, a1, accumulate);
        if (i0 + 2 < g.Cin) Output.Store(dx, (i0 + 2) * plane + pixel, a2, accumulate);
        if (i0 + 3 < g.Cin) Output.Store(dx, (i0 + 3) * plane + pixel, a3, accumulate);
    }

}
