namespace IlgpuStyle.Tests.Reference;

/// <summary>
/// crowsonkb/style-transfer-pytorch's EMA, written as there, in double: value starts at 0 and accum at 1;
/// update(x): accum ← D·accum, value ← D·value + (1−D)·x; get() = value / (1 − accum).
/// </summary>
public sealed class IterateAverageReference(int n, double decay)
{
    private readonly double[] value = new double[n];
    private double accum = 1;

    public double[] Value => value;

    public void Update(ReadOnlySpan<float> x)
    {
        accum *= decay;
        for (int i = 0; i < value.Length; i++) value[i] = decay * value[i] + (1 - decay) * x[i];
    }

    public double[] Get() => value.Select(v => v / (1 - accum)).ToArray();
}
