using IlgpuStyle.Kernels;
using Xunit;

namespace IlgpuStyle.Tests.Kernels;

/// <summary>
/// <see cref="VectorSets"/> (the vector-free L-BFGS's passes) against double loops on the host: lengths that are not
/// multiples of a group or of 4096 (several groups), basis counts below, at and past a launch's 8 vectors.
/// </summary>
public class VectorSetsTests(ITestOutputHelper log)
{
    public static readonly TheoryData<string, int, int> Cases = Devices.With((1, 1), (37, 7), (5000, 8), (9001, 9), (70001, 21));

    [Theory]
    [MemberData(nameof(Cases))]
    public void DotsAndCombineMatchDoubleLoops(string device, int n, int count)
    {
        var gpu = Devices.Get(device);
        var shape = Shape4.Vector(n);
        var probeData = Enumerable.Range(0, VectorSets.Probes).Select(p => TestData.Uniform(100 + p, n)).ToArray();
        var basisData = Enumerable.Range(0, count).Select(j => TestData.Uniform(200 + j, n)).ToArray();
        var probes = probeData.Select(d => gpu.FromHost(shape, d)).ToList();
        var basis = basisData.Select(d => gpu.FromHost(shape, d)).ToList();
        using var partials = gpu.Allocate(Shape4.Vector(VectorSets.PartialFloats(n, count, gpu.Kind == ILGPU.Runtime.AcceleratorType.CPU)));
        using var coefficientBuffer = gpu.Allocate(Shape4.Vector((count + 7) / 8 * 8));
        using var destination = gpu.Allocate(shape);
        try
        {
            // The kernels for GPUs (group reductions, grid-stride loops) and for CPU devices (lane blocks, contiguous runs).
            foreach (bool lanes in new[] { false, true })
            {
                var products = new double[VectorSets.Probes, count];
                VectorSets.Dots(probes, basis, partials, products, lanes);
                double worst = 0;
                for (int p = 0; p < VectorSets.Probes; p++)
                    for (int j = 0; j < count; j++)
                    {
                        double expected = 0, scale = 0;
                        for (int i = 0; i < n; i++)
                        {
                            expected += (double)probeData[p][i] * basisData[j][i];
                            scale += Math.Abs((double)probeData[p][i] * basisData[j][i]);
                        }
                        // float sums of ≤ n/(groups·threads) terms per thread, then a float tree: error ≪ 1e-5 of Σ|terms|
                        double error = Math.Abs(products[p, j] - expected) / Math.Max(scale, 1e-30);
                        worst = Math.Max(worst, error);
                        Assert.True(error < 1e-5, $"probe {p} · basis {j}: {products[p, j]} vs {expected} (relative to Σ|terms| {error:E2}), lanes {lanes} [{device}]");
                    }
                log.WriteLine($"dots n={n} basis={count} lanes={lanes} [{device}]: worst error / Σ|terms| {worst:E2}");

                // Same input, same bits (no atomics): the L-BFGS iterates must repeat run to run.
                var again = new double[VectorSets.Probes, count];
                VectorSets.Dots(probes, basis, partials, again, lanes);
                Assert.Equal(products.Cast<double>(), again.Cast<double>());

                var coefficients = Enumerable.Range(0, count).Select(j => Math.Sin(j + 1.5) * 3).ToArray();
                var want = new double[n];
                for (int j = 0; j < count; j++)
                    for (int i = 0; i < n; i++) want[i] += (float)coefficients[j] * (double)basisData[j][i];
                destination.Fill(float.NaN); // every element must be written
                VectorSets.Combine(basis, coefficients, coefficientBuffer, destination, lanes);
                var combined = destination.ToHost();
                Check.Close(want, combined, 1e-5, 1e-5, $"combine n={n} basis={count} lanes={lanes} [{device}]", log);
                VectorSets.Combine(basis, coefficients, coefficientBuffer, destination, lanes);
                Assert.Equal(combined, destination.ToHost());
            }
        }
        finally
        {
            foreach (var t in probes.Concat(basis)) t.Dispose();
        }
    }

    [Fact]
    public void MisuseIsNamed()
    {
        var gpu = Devices.Get("cpu");
        using var a = gpu.Allocate(Shape4.Vector(5));
        using var b = gpu.Allocate(Shape4.Vector(6));
        using var c = gpu.Allocate(Shape4.Vector(8));
        using var partials = gpu.Allocate(Shape4.Vector(VectorSets.PartialFloats(5, 2, simulator: true)));
        Assert.Contains("destination is one of the vectors",
            Assert.Throws<ArgumentException>(() => VectorSets.Combine([a], [1.0], c, a)).Message);
        Assert.Contains("1×6×1×1", Assert.Throws<ArgumentException>(() => VectorSets.Combine([b], [1.0], c, a)).Message);
        Assert.Contains("2 coefficients for 1 vectors", Assert.Throws<ArgumentException>(() => VectorSets.Combine([a], [1.0, 2.0], c, a)).Message);
        Assert.Contains("2 probes", Assert.Throws<ArgumentException>(() => VectorSets.Dots([a, a], [a], partials, new double[3, 1])).Message);
        Assert.Contains("partial floats", Assert.Throws<ArgumentException>(() => VectorSets.Dots([a, a, a], Enumerable.Repeat(a, 9).ToList(), partials, new double[3, 9])).Message);
    }
}
