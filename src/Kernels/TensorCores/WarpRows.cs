// Test: through the kernels that use it (tests/IlgpuStyle.Tests/Kernels/TensorCores/Conv2dTensorCoreTests.cs: fragment order;
// GramTensorCoreTests.cs: k-major)
using ILGPU;

namespace IlgpuStyle.Kernels.TensorCores;

/// <summary>
/// A's TF32 fragment of one m16n8k8 row tile (WarpMma.cs), lane (g, q) = (lane / 4, lane mod 4): A0 = A[g][q],
/// A1 = A[g + 8][q], A2 = A[g][q + 4], A3 = A[g + 8][q + 4].
/// </summary>
internal readonly struct RowTile(float a0, float a1, float a2, float a3)
{
    public readonly float A0 = a0, A1 = a1, A2 = a2, A3 = a3;

    /// <summary>c + this tile × the B fragment (b0, b1), TF32 products: WarpMma.Tf32.</summary>
    public MmaAccumulator Tf32(float b0, float b1, MmaAccumulator c, ArrayView<float> exchange) =>
        WarpMma.Tf32(A0, A1, A2, A3, b0, b1, c, exchange);
}

/// <summary>
/// The A fragments of a warp's 64 rows for one mma k-step of 8 k (M{i}: rows 16·i …), read from a shared stage in one of
/// two layouts: <see cref="RowPairs"/> (k-major, rows g and g + 8 side by side: the Gram kernels, whose A is a feature map) or
/// <see cref="FragmentOrder"/> (the tensor-core convolution's weights, laid out before the kernel in the order the lanes
/// read them: 4 LDS.128 per k-step instead of 16 LDS).
/// </summary>
internal readonly struct WarpRows(RowTile m0, RowTile m1, RowTile m2, RowTile m3)
{
    public readonly RowTile M0 = m0, M1 = m1, M2 = m2, M3 = m3;

    /// <summary>
    /// From a k-major stage whose rows g and g + 8 of each 16-row tile lie side by side (the Gram kernels, whose A is a
    /// feature map): Float2 <paramref name="at"/> of <paramref name="s"/> is (A[g][q], A[g + 8][q]) = (a0, a1) of the warp's
    /// first row tile, row tile i's 8·i further, and (a2, a3) <paramref name="k4"/> further (4 k-rows): 8 LDS.64 per
    /// k-step, not 16 LDS, each pair in the order the mma takes its registers.
    /// </summary>
    public static WarpRows RowPairs(ArrayView<SharedGemm.Float2> s, int at, int k4) =>
        new(Tile(s[at], s[at + k4]), Tile(s[at + 8], s[at + 8 + k4]), Tile(s[at + 16], s[at + 16 + k4]), Tile(s[at + 24], s[at + 24 + k4]));

    /// <summary>A row tile from its k-rows q (<paramref name="low"/>: rows g, g + 8) and q + 4 (<paramref name="high"/>).</summary>
    private static RowTile Tile(SharedGemm.Float2 low, SharedGemm.Float2 high) => new(low.X, low.Y, high.X, high.Y);

    /// <summary>
    /// From a stage in fragment order (<see cref="Conv2d.TensorCoreOperand"/>): row tile i's fragment of lane l is the
    /// Float4 (A0, A1, A2, A3) at <paramref name="at"/> + 32·i, <paramref name="at"/> = the k-step's first Float4 + l —
    /// the warp's 32 lanes read 512 consecutive bytes per tile, no bank conflicts.
    /// </summary>
    public static WarpRows FragmentOrder(ArrayView<SharedGemm.Float4> s4, int at)
    {
        var t0 = s4[at];
        var t1 = s4[at + 32];
        var t2 = s4[at + 64];
        var t3 = s4[at + 96];
        return new(new(t0.X, t0.Y, t0.Z, t0.W), new(t1.X, t1.Y, t1.Z, t1.W), new(t2.X, t2.Y, t2.Z, t2.W), new(t3.X, t3.Y, t3.Z, t3.W));
    }
}
