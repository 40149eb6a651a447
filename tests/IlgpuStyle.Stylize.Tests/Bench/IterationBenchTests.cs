using System.Text.Json;
using Xunit;

namespace IlgpuStyle.Tests.Bench;

/// <summary>
/// The whole-iteration bench's plumbing through the CLI (in-process): well-formed JSON, positive times, a peak,
/// no device allocation after the first iteration, the per-op profile (--profile). Not a timed test. It runs on OpenCL only: VGG19 to relu5_1 is
/// the smallest network the bench builds, and one evaluation of it takes over a minute on the CPU simulator even
/// at 16×16 (the fast convolution rearranges its weights on every call, 2.4 M values for a 512×512 layer).
/// </summary>
public sealed class IterationBenchTests(ITestOutputHelper log)
{
    [Fact]
    public void IterationBenchReportsTimesPeakMemoryAndNoAllocationsAfterTheFirstIteration()
    {
        Devices.Get("opencl"); // skips without a usable OpenCL device (fails under CI=true)
        var (code, stdout, stderr) = CliRunner.Run("bench", "--device", "opencl", "--no-kernels", "--iteration-sizes", "32,48",
            "--runs", "2", "--warmup", "1", "--weights", "random", "--json", "--profile");
        log.WriteLine(stderr);
        Assert.Equal(0, code);

        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("kernels").ValueKind);
        var iteration = root.GetProperty("iteration");
        Assert.StartsWith("opencl", iteration.GetProperty("device").GetString());
        Assert.False(iteration.GetProperty("realWeights").GetBoolean());
        Assert.Contains("random", iteration.GetProperty("weights").GetString());
        Assert.Contains("history 5", iteration.GetProperty("optimizer").GetString());
        var timings = iteration.GetProperty("timings").EnumerateArray().ToList();
        Assert.Equal([32, 48], timings.Select(t => t.GetProperty("size").GetInt32()));
        foreach (var t in timings)
        {
            double seconds = t.GetProperty("medianSeconds").GetDouble();
            double evaluate = t.GetProperty("evaluateMedianSeconds").GetDouble();
            log.WriteLine($"{t.GetProperty("size").GetInt32()}²: {seconds:0.000} s/iteration (evaluate {evaluate:0.000} s), " +
                          $"peak {t.GetProperty("peakBytes").GetInt64()} B, allocations {t.GetProperty("allocationsFirstIteration").GetInt64()} in the first iteration, " +
                          $"{t.GetProperty("allocationsAfterFirstIteration").GetInt64()} after");
            Assert.Equal(2, t.GetProperty("timedIterations").GetInt32());
            Assert.True(seconds > 0 && t.GetProperty("minSeconds").GetDouble() > 0);
            Assert.True(evaluate > 0 && evaluate <= seconds * 1.0001, $"evaluation {evaluate} s within the iteration {seconds} s");
            Assert.True(t.GetProperty("cpuSecondsPerIteration").GetDouble() > 0);
            Assert.True(t.GetProperty("peakBytes").GetInt64() > 80L << 20, "peak includes the VGG19 weights to conv5_1 (~80 MB)");
            Assert.True(t.GetProperty("allocationsFirstIteration").GetInt64() > 0, "the first evaluation allocates the tape's buffers");
            Assert.Equal(0, t.GetProperty("allocationsAfterFirstIteration").GetInt64());
            Assert.Equal(0.0, t.GetProperty("allocationsPerIterationAfterFirst").GetDouble());
            float initial = t.GetProperty("initialLoss").GetSingle(), final = t.GetProperty("finalLoss").GetSingle();
            Assert.True(float.IsFinite(initial) && float.IsFinite(final) && final < initial, $"loss {initial} → {final} decreases");
            // --profile: one evaluation op by op — the 13 convolutions to conv5_1 (+ReLU), 5 Gram matrices, 4 poolings.
            var ops = t.GetProperty("ops").EnumerateArray().ToDictionary(o => o.GetProperty("op").GetString()!,
                o => (Calls: o.GetProperty("calls").GetInt32(), Ms: o.GetProperty("forwardMs").GetDouble() + o.GetProperty("backwardMs").GetDouble()));
            log.WriteLine(string.Join(", ", ops.Select(kv => $"{kv.Key} ×{kv.Value.Calls} {kv.Value.Ms:0.0} ms")));
            Assert.Equal(13, ops["Conv2d+Relu"].Calls);
            Assert.Equal(5, ops["Gram"].Calls);
            Assert.Equal(4, ops["Pool2x2"].Calls);
            Assert.All(ops.Values, o => Assert.True(o.Ms >= 0));
            Assert.True(ops.Values.Sum(o => o.Ms) <= t.GetProperty("profiledEvaluationMs").GetDouble() * 1.001, "the ops' times lie within the evaluation's");
        }
    }

    [Theory]
    [InlineData("--iteration-sizes 8", "not a size ≥ 16")]
    [InlineData("--iteration-sizes 32,x", "'x' is not a size")]
    [InlineData("--no-kernels --no-iteration", "nothing to do")]
    [InlineData("--lbfgs-history 0", "--lbfgs-history must be ≥ 1")]
    public void BadOptionsAreRejectedBeforeAnyDeviceWork(string options, string message)
    {
        var (code, _, stderr) = CliRunner.Run(["bench", "--device", "cpu", .. options.Split(' ')]);
        log.WriteLine(stderr);
        Assert.Equal(2, code);
        Assert.Contains(message, stderr);
    }
}
