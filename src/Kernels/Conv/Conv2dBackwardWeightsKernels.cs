using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

// Gradients with respect to the weights and bias:
//   dw[o, i, kh, kw] = Σ_{oy,ox} dy[o, oy, ox] · x[i, oy·SH + kh − PH, ox·SW + kw − PW]   (x = 0 outside)
//   db[o]            = Σ_{oy,ox} dy[o, oy, ox]
// Viewed as a matrix product dw[o, j] = Σ_p dy[o, p] · col[j, p] with j = (i, kh, kw) and p = (oy, ox),
// where col (im2col) is never stored: tiles of it are gathered from x straight into shared memory.
public static partial class Conv2d
{
    /// <summary>dw columns j each thread of the weight-gradient kernel owns (a register block).</summary>
    internal const int ColumnsPerThread = 4;

    /// <summary>Pixel tiles (of T pixels each) staged in shared memory per barrier by the weight-gradient kernel.</summary>
    internal const int PixelTilesPerStep = 2;

    /// <summary>
    /// One T×T group computes a T × 4T block of dw[o, j] (rows o from grid y, columns j from grid x; thread
    /// (tx, ty) owns o = o0 + ty and j = j0 + tx + m·T for m = 0..3), summing over the pixels of slice z:
    /// [z·pixelsPerSlice, (z + 1)·pixelsPerSlice). Each step stages 2T pixels of dy (T rows) and of col
    /// (4T rows) in shared memory, threads along x reading consecutive pixels so loads are coalesced; rows
    /// are padded by one against bank conflicts. Each dw element (or partial) belongs to one thread, which
    /// sums in a fixed order, so results are deterministic. With one slice the kernel writes dw directly
    /// (accumulate honoured); otherwise it writes partials[z, o, j].
    /// </summary>
    private static void WeightsGradTiledKernel(ConvGeometry g, int pixelsPerSlice, int slices, View x, View dy, View dst, int accumulate)
    {
        var dyTile = SharedMemory.Allocate<float>(MaxTile * (PixelTilesPerStep * MaxTile + 1));
        var colTile = SharedMemory.Allocate<float>(ColumnsPerThread * MaxTile * (PixelTilesPerStep * MaxTile + 1));
        int tile = Group.DimX, step = PixelTilesPerStep * tile, pitch = step + 1;
        int tx = Group.IdxX, ty = Group.IdxY;
        int j0 = Grid.IdxX * tile * ColumnsPerThread, o0 = Grid.IdxY * tile;
        int columns = g.Cin * g.Taps, pixels = g.OutPlane;
        int o = o0 + ty;

        int pStart = Grid.IdxZ * pixelsPerSlice;
        int pEnd = IntrinsicMath.Min(pixels, pStart + pixelsPerSlice);
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int p0 = pStart; p0 < pEnd; p0 += step)
        {
            for (int s = 0; s < PixelTilesPerStep; s++)
            {
                int q = s * tile + tx, p = p0 + q;
                bool pixelOk = p < pEnd;
                int oy = p / g.OutW, ox = p - oy * g.OutW;
                dyTile[ty * pitch + q] = pixelOk && o < g.Cout ? dy[o * pixels + p] : 0f;
                for (int m = 0; m < ColumnsPerThread; m++)
                {
                    int row = m * tile + ty;
                    colTile[row * pitch + q] = pixelOk ? ColumnValue(g, x, j0 + row, oy, ox) : 0f;
                }
            }
            Group.Barrier();

            int dyRow = ty * pitch;
            for (int q = 0; q < step; q++)
            {
                float d = dyTile[dyRow + q];
                a0 += d * colTile[tx * pitch + q];
                a1 += d * colTile[(tile + tx) * pitch + q];
                a2 += d * colTile[(2 * tile + tx) * pitch + q];
                a3 += d * colTile[(3 * tile + tx) * pitch + q];
            }
            Group.Barrier();
        }

        if (o >= g.Cout) return;
        int j = j0 + tx;
        StoreWeightGrad(dst, g, slices, o, j, a0, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + tile, a1, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + 2 * tile, a2, accumulate);
        StoreWeightGrad(dst, g, slices, o, j + 3 * tile, a3, accumulate);
    }

    // col[j, (oy, ox)] = x[i, oy·SH + kh − PH, ox·SW + kw − PW] with j = (i, kh, kw); 0 in the padding or past the last column.
    private static float ColumnValue(ConvGeometry g, View x, int j, int oy, int ox)
    {
        int taps = g.Taps;
        int i = j / taps, k = j - i * taps;
        int kh = k / g.KW, kw = k - kh * g.KW;
        int iy = oy * g.SH + kh - g.PH, ix = ox * g.SW + kw - g.PW;
        return i < g.Cin && iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[(i * g.H + iy) * g.W + ix] : 0f;
    }

    // dw[o, j] (+)= v with one slice; partials[z, o, j] = v otherwise. Columns past the end are dropped.
    private static void StoreWeightGrad(View dst, ConvGeometry g, int slices, int o, int j, float v, int accumulate)
    {
        int columns = g.Cin * g.Taps;
        if (j >= columns) return;
        int index = o * columns + j;
        if (slices == 1) Output.Store(dst, index, v, accumulate);
        else dst[Grid.IdxZ * g.Cout * columns + index] = v;
    }

    // dw[e] (+)= Σ_z partials[z, e], summed in slice order.
    private static void SumSlicesKernel(Index1D index, View partials, int slices, int count, View dw, int accumulate)
    {
        int e = index;
        float sum = 0f;
        for (int z = 0; z < slices; z++) sum += partials[z * count + e];
        Output.Store(dw, e, sum, accumulate);
    }

    /// <summary>db[o] (+)= Σ_p dy[o, p]: one group per output channel, strided sums then a shared-memory tree.</summary>
    private static void BiasGradKernel(View dy, int pixels, View db, int accumulate)
    {
        var shared = SharedMemory.Allocate<float>(MaxReductionGroup);
        int t = Group.IdxX, o = Grid.IdxX;
        float acc = 0f;
        for (int p = t; p < pixels; p += Group.DimX) acc += dy[o * pixels + p];
        shared[t] = acc;
        Group.Barrier();
        for (int s = Group.DimX / 2; s > 0; s >>= 1)
        {
            if (t < s) shared[t] += shared[t + s];
            Group.Barrier();
        }
        if (t == 0) Output.Store(db, o, shared[0], accumulate);
    }
}
