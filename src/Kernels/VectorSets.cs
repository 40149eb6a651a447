// Reference: inline double loops in its test · Test: tests/IlgpuStyle.Tests/Kernels/VectorSetsTests.cs
using ILGPU;
using ILGPU.Runtime;

namespace IlgpuStyle.Kernels;

using View = ArrayView1D<float, Stride1D.Dense>;

/// <summary>
/// Many dot products and linear combinations of equally long vectors in few passes, for the vector-free L-BFGS
/// (Chen, Wang &amp; Zhou, "Large-scale L-BFGS using MapReduce", NIPS 2014):
/// <list type="bullet">
/// <item><see cref="Dots"/>: Pᵢⱼ = probeᵢ · basisⱼ for 3 probes and any number of basis vectors — each launch reads the
/// probes and 8 basis vectors once and sums 24 products per element; the partial sums of each group are read back once
/// for all launches and added on the host in double, in a fixed order (no atomics: same input, same bits);</item>
/// <item><see cref="Combine"/>: d = Σⱼ cⱼ·basisⱼ, 8 basis vectors per launch.</item>
/// </list>
/// Each has a kernel for GPUs (work-items interleaved along the vectors: coalesced) and one for CPU devices (each
/// work-item a contiguous run of 8-element blocks: prefetched streams, 8 lanes for the vectorizer); the CPU ones run by
/// default on OpenCL CPU devices (<see cref="LanesByDefault"/>), either can be asked for.
/// A launch with fewer than 8 vectors left repeats the chunk's first one (its reads hit the cache) with its result
/// ignored (<see cref="Dots"/>) or a zero coefficient (<see cref="Combine"/>), so the kernels have no branches.
/// </summary>
public static class VectorSets
{
    /// <summary>Basis vectors per launch.</summary>
    public const int Width = 8;

    /// <summary>Probes of <see cref="Dots"/> (L-BFGS: the new s, the new y and the gradient).</summary>
    public const int Probes = 3;

    /// <summary>Sums each group of <see cref="Dots"/> writes per launch.</summary>
    private const int Sums = Probes * Width;

    /// <summary>Largest group size (the static shared array holds <see cref="Sums"/> floats per thread).</summary>
    private const int MaxGroup = 256;

    /// <summary>Groups of a <see cref="Dots"/> launch on GPUs: one per 4096 elements, at most 256 (8 on the CPU simulator, whose barriers are slow).</summary>
    private static int DotGroups(int count, bool simulator) =>
        Math.Clamp((count + 4095) / 4096, 1, simulator ? 8 : 256);

    /// <summary>Work-items of a <see cref="Dots"/> launch on CPU devices (groups of 8): 8 per 32768 elements, at most 64.</summary>
    private static int LaneItems(int count) => 8 * Math.Clamp((count + 32767) / 32768, 1, 8);

    /// <summary>
    /// Partial-sum rows (of 24) one <see cref="Dots"/> launch writes: one per group, or with <paramref name="lanes"/> 8 per
    /// work-item (its lanes).
    /// </summary>
    private static int Rows(int count, bool simulator, bool lanes) => lanes ? 8 * LaneItems(count) : DotGroups(count, simulator);

    /// <summary>Launches of 8 vectors that <paramref name="vectors"/> vectors take (at least 1).</summary>
    private static int Chunks(int vectors) => Math.Max(1, (vectors + Width - 1) / Width);

    /// <summary>Floats of the coefficient buffer <see cref="Combine"/> needs for <paramref name="vectors"/> vectors (a whole number of launches).</summary>
    public static int CoefficientFloats(int vectors) => Chunks(vectors) * Width;

    /// <summary>Floats of the partial-sum buffer <see cref="Dots"/> needs for <paramref name="basis"/> vectors of <paramref name="count"/> elements (either kernel).</summary>
    public static int PartialFloats(int count, int basis, bool simulator = false) =>
        Chunks(basis) * Math.Max(Rows(count, simulator, false), Rows(count, simulator, true)) * Sums;

    /// <summary>Whether <see cref="Dots"/> runs the lane-block kernel on <paramref name="gpu"/> by default: on OpenCL CPU devices.</summary>
    public static bool LanesByDefault(Gpu gpu) => Gpu.IsOpenClCpu(gpu.Accelerator);

    // partial[g·24 + p·8 + q] = Σ over this group's grid-stride slice of probe_p[i]·b_q[i]   (p: s, y, g; q: b0 … b7)
    private static void DotsKernel(View s, View y, View g, View b0, View b1, View b2, View b3, View b4, View b5, View b6,
        View b7, int n, View partial)
    {
        var shared = SharedMemory.Allocate<float>(Sums * MaxGroup);
        int t = Group.IdxX, threads = Group.DimX;
        int stride = Grid.DimX * threads;
        // Lane q of accS: Σ s[i]·b_q[i] (the 8 basis values of one element side by side).
        Lanes8 accS = default, accY = default, accG = default;
        for (int i = Grid.IdxX * threads + t; i < n; i += stride)
        {
            var b = new Lanes8(b0[i], b1[i], b2[i], b3[i], b4[i], b5[i], b6[i], b7[i]);
            accS = accS.Add(Lanes8.Splat(s[i]), b);
            accY = accY.Add(Lanes8.Splat(y[i]), b);
            accG = accG.Add(Lanes8.Splat(g[i]), b);
        }
        accS.StoreStrided(shared, t, threads);
        accY.StoreStrided(shared, Width * threads + t, threads);
        accG.StoreStrided(shared, 2 * Width * threads + t, threads);
        Group.Barrier();
        for (int half = threads / 2; half > 0; half >>= 1)
        {
            if (t < half)
                for (int v = 0; v < Sums; v++) shared[v * threads + t] += shared[v * threads + t + half];
            Group.Barrier();
        }
        for (int v = t; v < Sums; v += threads) partial[Grid.IdxX * Sums + v] = shared[v * threads];
    }

    // The same sums for CPU devices (PoCL vectorizes a work-item's straight-line code, not loops across work-items, see
    // doc/PERFORMANCE.md "What makes PoCL vectorize"): each work-item owns a contiguous run of blocks of 8 consecutive
    // elements — streams the hardware prefetches (a grid-stride loop, as above, walked each vector in 32-byte pieces 2 KB
    // apart: 3× the time) — keeping sums of 8 lanes, and writes them unreduced: partial[(w·24 + p·8 + q)·8 + lane],
    // w = its global index (the host adds the lanes). Work-item 0 adds the n mod 8 elements past the last block; n ≥ 8.
    private static void DotsLanesKernel(View s, View y, View g, View b0, View b1, View b2, View b3, View b4, View b5,
        View b6, View b7, int n, View partial)
    {
        int w = Grid.IdxX * Group.DimX + Group.IdxX, items = Grid.DimX * Group.DimX, blocks = n / 8;
        int first = (int)((long)w * blocks / items), end = (int)((long)(w + 1) * blocks / items);
        int tail = w == 0 ? 8 * blocks : n, o = w * Sums * 8;
        // Four basis vectors at a time: 12 sums of 8 lanes and the 4 operands fit AVX2's 16 vector registers (24 sums
        // would spill there). The second pass reads this work-item's run of the probes again from its core's cache.
        DotsLanesOfFour(s, y, g, b0, b1, b2, b3, first, end, tail, n, partial, o);
        DotsLanesOfFour(s, y, g, b4, b5, b6, b7, first, end, tail, n, partial, o + 4 * 8);
    }

    // DotsLanesKernel's sums for 4 basis vectors over blocks [first, end), and elements [tail, n) when tail < n; the lanes
    // of probe p · b_j to partial[o + (p·8 + j)·8 …].
    private static void DotsLanesOfFour(View s, View y, View g, View b0, View b1, View b2, View b3, int first, int end,
        int tail, int n, View partial, int o)
    {
        Lanes8 s0 = default, s1 = default, s2 = default, s3 = default;
        Lanes8 y0 = default, y1 = default, y2 = default, y3 = default;
        Lanes8 g0 = default, g1 = default, g2 = default, g3 = default;
        for (int k = first; k < end; k++)
        {
            int i = 8 * k;
            var ps = Lanes8.Load(s, i);
            var py = Lanes8.Load(y, i);
            var pg = Lanes8.Load(g, i);
            var b = Lanes8.Load(b0, i); s0 = s0.Add(ps, b); y0 = y0.Add(py, b); g0 = g0.Add(pg, b);
            b = Lanes8.Load(b1, i); s1 = s1.Add(ps, b); y1 = y1.Add(py, b); g1 = g1.Add(pg, b);
            b = Lanes8.Load(b2, i); s2 = s2.Add(ps, b); y2 = y2.Add(py, b); g2 = g2.Add(pg, b);
            b = Lanes8.Load(b3, i); s3 = s3.Add(ps, b); y3 = y3.Add(py, b); g3 = g3.Add(pg, b);
        }
        if (tail < n)
        {
            // The last n mod 8 elements as one more block: the 8 elements ending at n (n ≥ 8: Dots sees to it) with the
            // lanes before the tail zeroed. Every lane takes the same steps as in the loop, so clang keeps the sums in
            // whole vectors (a scalar loop adding into lane 0 made it split the loop's lanes into pieces: 2× the time).
            int i = n - 8;
            var ps = Lanes8.LoadFrom(s, i, tail);
            var py = Lanes8.LoadFrom(y, i, tail);
            var pg = Lanes8.LoadFrom(g, i, tail);
            var b = Lanes8.Load(b0, i); s0 = s0.Add(ps, b); y0 = y0.Add(py, b); g0 = g0.Add(pg, b);
            b = Lanes8.Load(b1, i); s1 = s1.Add(ps, b); y1 = y1.Add(py, b); g1 = g1.Add(pg, b);
            b = Lanes8.Load(b2, i); s2 = s2.Add(ps, b); y2 = y2.Add(py, b); g2 = g2.Add(pg, b);
            b = Lanes8.Load(b3, i); s3 = s3.Add(ps, b); y3 = y3.Add(py, b); g3 = g3.Add(pg, b);
        }
        // Lane by lane (stores along the lanes keep clang's vectors along the elements, not across the basis vectors).
        s0.Store(partial, o + 0 * 8); s1.Store(partial, o + 1 * 8); s2.Store(partial, o + 2 * 8); s3.Store(partial, o + 3 * 8);
        y0.Store(partial, o + 8 * 8); y1.Store(partial, o + 9 * 8); y2.Store(partial, o + 10 * 8); y3.Store(partial, o + 11 * 8);
        g0.Store(partial, o + 16 * 8); g1.Store(partial, o + 17 * 8); g2.Store(partial, o + 18 * 8); g3.Store(partial, o + 19 * 8);
    }

    /// <summary>8 floats side by side: running sums (one vector register for clang's SLP vectorizer), or 8 basis values of one element.</summary>
    private readonly struct Lanes8(float l0, float l1, float l2, float l3, float l4, float l5, float l6, float l7)
    {
        /// <summary>v[i … i + 7] (through a sub-view: constant offsets from one pointer, which clang loads as one vector).</summary>
        public static Lanes8 Load(View v, int i)
        {
            var w = v.SubView(i, 8);
            return new(w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
        }

        /// <summary>v[i … i + 7] with the lanes before index <paramref name="from"/> 0 (every element is read).</summary>
        public static Lanes8 LoadFrom(View v, int i, int from)
        {
            var w = Load(v, i);
            return new(i >= from ? w.L0 : 0f, i + 1 >= from ? w.L1 : 0f, i + 2 >= from ? w.L2 : 0f, i + 3 >= from ? w.L3 : 0f,
                i + 4 >= from ? w.L4 : 0f, i + 5 >= from ? w.L5 : 0f, i + 6 >= from ? w.L6 : 0f, i + 7 >= from ? w.L7 : 0f);
        }

        public static Lanes8 Splat(float v) => new(v, v, v, v, v, v, v, v);

        /// <summary>this + a ⊙ b, lane by lane.</summary>
        public Lanes8 Add(Lanes8 a, Lanes8 b) => new(
            L0 + a.L0 * b.L0, L1 + a.L1 * b.L1, L2 + a.L2 * b.L2, L3 + a.L3 * b.L3,
            L4 + a.L4 * b.L4, L5 + a.L5 * b.L5, L6 + a.L6 * b.L6, L7 + a.L7 * b.L7);

        /// <summary>Lane q to v[start + q·stride].</summary>
        public void StoreStrided(ArrayView<float> v, int start, int stride)
        {
            v[start] = L0; v[start + stride] = L1; v[start + 2 * stride] = L2; v[start + 3 * stride] = L3;
            v[start + 4 * stride] = L4; v[start + 5 * stride] = L5; v[start + 6 * stride] = L6; v[start + 7 * stride] = L7;
        }

        /// <summary>The 8 lanes to v[i … i + 7].</summary>
        public void Store(View v, int i)
        {
            var w = v.SubView(i, 8);
            w[0] = L0; w[1] = L1; w[2] = L2; w[3] = L3; w[4] = L4; w[5] = L5; w[6] = L6; w[7] = L7;
        }

        public float L0 { get; } = l0;
        public float L1 { get; } = l1;
        public float L2 { get; } = l2;
        public float L3 { get; } = l3;
        public float L4 { get; } = l4;
        public float L5 { get; } = l5;
        public float L6 { get; } = l6;
        public float L7 { get; } = l7;
    }

    // d[i] = (accumulate ? d[i] : 0) + Σ_q c[q]·b_q[i]   (q = 0 … 7)
    private static void CombineKernel(Index1D i, View d, View b0, View b1, View b2, View b3, View b4, View b5, View b6,
        View b7, View c, int accumulate) =>
        d[i] = CombinedAt(i, d, b0, b1, b2, b3, b4, b5, b6, b7, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], accumulate);

    // (accumulate ? d[i] : 0) + c0·b0[i] + … + c7·b7[i], added in that order: CombineKernel's element, CombineLanesKernel's tail.
    private static float CombinedAt(int i, View d, View b0, View b1, View b2, View b3, View b4, View b5, View b6, View b7,
        float c0, float c1, float c2, float c3, float c4, float c5, float c6, float c7, int accumulate)
    {
        float sum = accumulate != 0 ? d[i] : 0f;
        sum += c0 * b0[i];
        sum += c1 * b1[i];
        sum += c2 * b2[i];
        sum += c3 * b3[i];
        sum += c4 * b4[i];
        sum += c5 * b5[i];
        sum += c6 * b6[i];
        sum += c7 * b7[i];
        return sum;
    }

    // The same for CPU devices: each work-item owns a contiguous run of 8-element blocks, the 8 coefficients in registers
    // (PoCL vectorizes the kernel above across work-items with gathered loads: 2× the time). Work-item 0 also does the
    // n mod 8 elements past the last block.
    private static void CombineLanesKernel(View d, View b0, View b1, View b2, View b3, View b4, View b5, View b6, View b7,
        View c, int accumulate, int n)
    {
        int w = Grid.IdxX * Group.DimX + Group.IdxX, items = Grid.DimX * Group.DimX, blocks = n / 8;
        int first = (int)((long)w * blocks / items), end = (int)((long)(w + 1) * blocks / items);
        var c0 = Lanes8.Splat(c[0]); var c1 = Lanes8.Splat(c[1]); var c2 = Lanes8.Splat(c[2]); var c3 = Lanes8.Splat(c[3]);
        var c4 = Lanes8.Splat(c[4]); var c5 = Lanes8.Splat(c[5]); var c6 = Lanes8.Splat(c[6]); var c7 = Lanes8.Splat(c[7]);
        for (int k = first; k < end; k++)
        {
            int i = 8 * k;
            var sum = accumulate != 0 ? Lanes8.Load(d, i) : default;
            sum = sum.Add(c0, Lanes8.Load(b0, i)).Add(c1, Lanes8.Load(b1, i)).Add(c2, Lanes8.Load(b2, i)).Add(c3, Lanes8.Load(b3, i))
                .Add(c4, Lanes8.Load(b4, i)).Add(c5, Lanes8.Load(b5, i)).Add(c6, Lanes8.Load(b6, i)).Add(c7, Lanes8.Load(b7, i));
            sum.Store(d, i);
        }
        if (w == 0)
            for (int i = 8 * blocks; i < n; i++)
                d[i] = CombinedAt(i, d, b0, b1, b2, b3, b4, b5, b6, b7, c0.L0, c1.L0, c2.L0, c3.L0, c4.L0, c5.L0, c6.L0, c7.L0, accumulate);
    }

    /// <summary>
    /// <paramref name="products"/>[p, j] ← <paramref name="probes"/>[p] · <paramref name="basis"/>[j] (summed in double
    /// from float partial sums), for the 3 probes and every basis vector; one readback for all of them.
    /// <paramref name="partials"/>: scratch of at least <see cref="PartialFloats"/> floats (the caller allocates it
    /// once: L-BFGS iterations allocate nothing). <paramref name="lanes"/>: the CPU devices' kernel (true) or the GPUs' (false);
    /// null: <see cref="LanesByDefault"/>.
    /// </summary>
    public static void Dots(IReadOnlyList<Tensor> probes, IReadOnlyList<Tensor> basis, Tensor partials, double[,] products,
        bool? lanes = null)
    {
        if (probes.Count != Probes) throw new ArgumentException($"dots: {probes.Count} probes, {Probes} expected", nameof(probes));
        if (basis.Count == 0) throw new ArgumentException("dots: no basis vectors", nameof(basis));
        if (products.GetLength(0) < Probes || products.GetLength(1) < basis.Count)
            throw new ArgumentException($"dots: a {products.GetLength(0)}×{products.GetLength(1)} result for {Probes}×{basis.Count} products", nameof(products));
        var first = probes[0];
        foreach (var v in probes.Concat(basis)) ShapeCheck.Same("dots", "probe", first.Shape, "vector", v.Shape);
        var gpu = first.Gpu;
        bool simulator = gpu.Kind == AcceleratorType.CPU;
        bool useLanes = (lanes ?? LanesByDefault(gpu)) && first.Count >= 8; // the lane kernel's last block is 8 elements
        int n = first.Count, rows = Rows(n, simulator, useLanes), chunks = Chunks(basis.Count);
        int need = PartialFloats(n, basis.Count, simulator);
        if (partials.Count < need) throw new ArgumentException($"dots: {partials.Count} partial floats, {need} needed", nameof(partials));
        var config = useLanes
            ? new KernelConfig(rows / 64, 8)
            : new KernelConfig(rows, Reduction.PowerOfTwoAtMost(Math.Min(gpu.GroupSize1D, MaxGroup)));
        var kernel = useLanes
            ? gpu.Kernel(DotsLanesKernel, a => a.LoadStreamKernel<View, View, View, View, View, View, View, View, View, View, View, int, View>(DotsLanesKernel))
            : gpu.Kernel(DotsKernel, a => a.LoadStreamKernel<View, View, View, View, View, View, View, View, View, View, View, int, View>(DotsKernel));
        for (int c = 0; c < chunks; c++)
        {
            var b = Chunk(basis, c);
            kernel(config, probes[0].View, probes[1].View, probes[2].View,
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], n, partials.View.SubView(c * rows * Sums, rows * Sums));
        }
        int length = chunks * rows * Sums;
        var rented = System.Buffers.ArrayPool<float>.Shared.Rent(length); // up to 1.3 MB per L-BFGS iteration: not a new array each time
        var host = rented.AsSpan(0, length);
        gpu.Synchronize();
        partials.View.SubView(0, length).AsContiguous().CopyToCPU(host);
        for (int c = 0; c < chunks; c++)
            for (int q = 0; q < Width && c * Width + q < basis.Count; q++)
                for (int p = 0; p < Probes; p++)
                {
                    double sum = 0;
                    int chunk = c * rows * Sums, v = p * Width + q;
                    if (useLanes)
                        for (int w = 0; w < rows / 8; w++)
                            for (int lane = 0; lane < 8; lane++) sum += host[chunk + (w * Sums + v) * 8 + lane];
                    else
                        for (int r = 0; r < rows; r++) sum += host[chunk + r * Sums + v];
                    products[p, c * Width + q] = sum;
                }
        System.Buffers.ArrayPool<float>.Shared.Return(rented);
    }

    /// <summary>
    /// <paramref name="destination"/> ← Σⱼ <paramref name="coefficients"/>[j]·<paramref name="basis"/>[j] (float
    /// arithmetic, 8 terms per pass, in the order of the basis). <paramref name="coefficientBuffer"/>: device scratch of
    /// at least ⌈basis / 8⌉·8 floats. The destination must not be one of the basis vectors. <paramref name="lanes"/>: as
    /// for <see cref="Dots"/>.
    /// </summary>
    public static void Combine(IReadOnlyList<Tensor> basis, IReadOnlyList<double> coefficients, Tensor coefficientBuffer, Tensor destination,
        bool? lanes = null)
    {
        if (basis.Count == 0) throw new ArgumentException("combine: no basis vectors", nameof(basis));
        if (coefficients.Count != basis.Count)
            throw new ArgumentException($"combine: {coefficients.Count} coefficients for {basis.Count} vectors", nameof(coefficients));
        foreach (var v in basis)
        {
            ShapeCheck.Same("combine", "destination", destination.Shape, "vector", v.Shape);
            if (ReferenceEquals(v, destination)) throw new ArgumentException("combine: the destination is one of the vectors", nameof(destination));
        }
        int chunks = Chunks(basis.Count), need = CoefficientFloats(basis.Count);
        if (coefficientBuffer.Count < need)
            throw new ArgumentException($"combine: {coefficientBuffer.Count} coefficient floats, {need} needed", nameof(coefficientBuffer));
        var c = new float[need]; // zeros for the repeated vectors of the last chunk
        for (int j = 0; j < basis.Count; j++) c[j] = (float)coefficients[j];
        coefficientBuffer.View.SubView(0, c.Length).CopyFromCPU(c);
        var gpu = destination.Gpu;
        int n = destination.Count;
        if (lanes ?? LanesByDefault(gpu))
        {
            var kernel = gpu.Kernel(CombineLanesKernel, a => a.LoadStreamKernel<View, View, View, View, View, View, View, View, View, View, int, int>(CombineLanesKernel));
            var config = new KernelConfig(LaneItems(n) / 8, 8);
            for (int k = 0; k < chunks; k++)
            {
                var b = Chunk(basis, k);
                kernel(config, destination.View, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    coefficientBuffer.View.SubView(k * Width, Width), k > 0 ? 1 : 0, n);
            }
        }
        else
        {
            var kernel = gpu.Kernel(CombineKernel, a => a.LoadAutoGroupedStreamKernel<Index1D, View, View, View, View, View, View, View, View, View, View, int>(CombineKernel));
            for (int k = 0; k < chunks; k++)
            {
                var b = Chunk(basis, k);
                kernel(n, destination.View, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    coefficientBuffer.View.SubView(k * Width, Width), k > 0 ? 1 : 0);
            }
        }
    }

    /// <summary>The views of chunk <paramref name="c"/> (vectors 8c … 8c + 7), the chunk's first repeated past the end.</summary>
    private static View[] Chunk(IReadOnlyList<Tensor> basis, int c)
    {
        var views = new View[Width];
        for (int q = 0; q < Width; q++)
        {
            int j = c * Width + q;
            views[q] = (j < basis.Count ? basis[j] : basis[c * Width]).View;
        }
        return views;
    }
}
