namespace IlgpuStyle.Tests.Reference;

/// <summary>Plain CPU ReLU in double precision.</summary>
public static class ReluReference
{
    public static double[] Forward(double[] x) => x.Select(v => Math.Max(v, 0.0)).ToArray();

    /// <summary>dx = dy where y = relu(x) &gt; 0, else 0.</summary>
    public static double[] Backward(double[] y, double[] dy) => y.Select((v, i) => v > 0 ? dy[i] : 0.0).ToArray();
}
