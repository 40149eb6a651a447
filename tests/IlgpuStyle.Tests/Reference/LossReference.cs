using IlgpuStyle.Kernels;

namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU losses in double precision.</summary>
public static class LossReference
{
    /// <summary>weight · mean((a − t)²).</summary>
    public static double Mse(double[] a, double[] t, double weight) =>
        weight * a.Select((v, i) => (v - t[i]) * (v - t[i])).Sum() / a.Length;

    /// <summary>∂Mse/∂a = 2·weight·(a − t)/n.</summary>
    public static double[] MseBackward(double[] a, double[] t, double weight) =>
        a.Select((v, i) => 2 * weight * (v - t[i]) / a.Length).ToArray();

    /// <summary>Every horizontal and vertical neighbour pair (first, second) of a 1×C×H×W image, as flat indices.</summary>
    private static IEnumerable<(int First, int Second)> NeighbourPairs(Shape4 s)
    {
        for (int c = 0; c < s.C; c++)
        for (int y = 0; y < s.H; y++)
        for (int x = 0; x < s.W; x++)
        {
            int i = (c * s.H + y) * s.W + x;
            if (x + 1 < s.W) yield return (i, i + 1);
            if (y + 1 < s.H) yield return (i, i + s.W);
        }
    }

    /// <summary>weight · Σ over neighbour pairs of (second − first)².</summary>
    public static double TotalVariation(double[] x, Shape4 s, double weight) =>
        weight * NeighbourPairs(s).Sum(p => (x[p.Second] - x[p.First]) * (x[p.Second] - x[p.First]));

    /// <summary>Each pair's term w·d², d = second − first, adds 2wd to ∂/∂second and −2wd to ∂/∂first.</summary>
    public static double[] TotalVariationBackward(double[] x, Shape4 s, double weight)
    {
        var dx = new double[x.Length];
        foreach (var (first, second) in NeighbourPairs(s))
        {
            double d = x[second] - x[first];
            dx[second] += 2 * weight * d;
            dx[first] -= 2 * weight * d;
        }
        return dx;
    }
}
