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
/// two layouts: <see cref="KMajor"/> (A[k][m] at k·sa + m: the Gram kernels, whose A is a feature map) or
/// <see cref="FragmentOrder"/> (the tensor-core convolution's weights, laid out before the kernel in the order the lanes
/// read them: 4 LDS.128 per k-step instead of 16 LDS).
/// </summary>
internal readonly struct WarpRows(RowTile m0, RowTile m1, RowTile m2, RowTile m3)
{
    public readonly RowTile M0 = m0, M1 = m1, M2 = m2, M3 = m3;

    /// <summary>
    /// From a k-major stage: <paramref name="a"/> is the index of A[g][q] of the warp's first row tile (k-row q, column g),
    /// so a0 is at a, a1 at a + 8, a2 and a3 four k-rows further.
    /// </summary>
    public static WarpRows KMajor(ArrayView<float> s, int a, int sa)
    {
        // One view at each of the two k-rows the lane reads (q and q + 4): every value is a constant offset from one of
        // them, which the loads carry (ILGPU widens an index to 64 bits before adding it to an address).
        ArrayView<float> ra = s.SubView(a, 57), ra4 = s.SubView(a + 4 * sa, 57);
        return new(new(ra[0], ra[8], ra4[0], ra4[8]), new(ra[16], ra[24], ra4[16], ra4[24]),
            new(ra[32], ra[40], ra4[32], ra4[40]), new(ra[48], ra[56], ra4[48], ra4[56]));
    }

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
