using IlgpuStyle.Kernels;

namespace IlgpuStyle.Autodiff;

/// <summary>
/// The differentiable ops, recorded on a <see cref="Tape"/>. Each runs its forward kernel now and records
/// the matching backward kernels. Weights and targets are constants: only gradients to inputs that
/// require them are computed.
/// </summary>
public static class Ops
{
    /// <summary>y = conv(x, w) + b, then ReLU when <paramref name="relu"/> (fused: the pre-activation is never stored).</summary>
    public static Variable Conv2d(this Tape tape, Variable x, Tensor weight, Tensor? bias, Conv2dParams p, bool relu)
    {
        Operand(x, "conv2d");
        var (oh, ow) = p.OutputSize(x.Shape.H, x.Shape.W);
        return Conv2dCore(tape, x, Shape4.Image(weight.Shape.N, oh, ow),
            y => Kernels.Conv2d.Forward(x.Value, weight, bias, y, p, relu),
            (dy, gate, dx, accumulate) => Kernels.Conv2d.BackwardData(dy, weight, dx, p, accumulate, gate), relu);
    }

    /// <summary>The same for a 3×3, stride 1, padding 1 layer whose weights were prepared once (frozen network weights).</summary>
    public static Variable Conv2d(this Tape tape, Variable x, PreparedConv3x3 weight, Tensor? bias, bool relu)
    {
        Operand(x, "conv2d");
        return Conv2dCore(tape, x, Shape4.Image(weight.Weight.Shape.N, x.Shape.H, x.Shape.W),
            y => Kernels.Conv2d.Forward(x.Value, weight, bias, y, relu),
            (dy, gate, dx, accumulate) => Kernels.Conv2d.BackwardData(dy, weight, dx, accumulate, gate), relu);
    }

    private static Variable Conv2dCore(Tape tape, Variable x, Shape4 outputShape, Action<Tensor> forward,
        Action<Tensor, Tensor?, Tensor, bool> backwardData, bool relu)
    {
        var y = tape.Pool.Rent(outputShape);
        forward(y);
        return tape.Record(y, x.RequiresGrad, op: relu ? "Conv2d+Relu" : "Conv2d", backwardFn: output =>
        {
            // With the ReLU, backward-data of d(pre-activation) = dy ⊙ [y > 0]: the kernels gate dy as they pad it (or
            // write the gated gradient over dy first; nothing downstream reads dy again).
            var (dx, accumulate) = tape.GradTarget(x);
            backwardData(output.Grad!, relu ? output.Value : null, dx, accumulate);
        });
    }

    public static Variable Relu(this Tape tape, Variable x)
    {
        Operand(x, "relu");
        var y = tape.Pool.Rent(x.Shape);
        Kernels.Relu.Forward(x.Value, y);
        return tape.Record(y, x.RequiresGrad, output =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            Kernels.Relu.Backward(output.Value, output.Grad!, dx, accumulate);
        });
    }

    /// <summary>Loss terms are scalars that can only be summed (their backward assumes upstream gradient 1).</summary>
    internal static void Operand(Variable x, string op)
    {
        if (x.IsLoss) throw new InvalidOperationException($"{op}: a loss term can only be summed with Tape.Total, not used as an op input.");
    }

    /// <summary>2×2, stride 2 pooling (max or average).</summary>
    public static Variable Pool2x2(this Tape tape, Variable x, PoolingKind kind)
    {
        Operand(x, "pool");
        var y = tape.Pool.Rent(Pooling.OutputShape(x.Shape));
        if (kind == PoolingKind.Max) Pooling.MaxForward(x.Value, y);
        else Pooling.AvgForward(x.Value, y);
        return tape.Record(y, x.RequiresGrad, output =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            if (kind == PoolingKind.Max) Pooling.MaxBackward(x.Value, output.Value, output.Grad!, dx, accumulate);
            else Pooling.AvgBackward(output.Grad!, dx, accumulate);
        });
    }

    /// <summary>G = scale · F Fᵀ for F = x viewed as C × (H·W).</summary>
    public static Variable Gram(this Tape tape, Variable x, float scale)
    {
        Operand(x, "gram");
        var g = tape.Pool.Rent(Kernels.Gram.OutputShape(x.Shape));
        Kernels.Gram.Forward(x.Value, g, scale);
        return tape.Record(g, x.RequiresGrad, output =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            Kernels.Gram.Backward(x.Value, output.Grad!, dx, scale, accumulate);
        });
    }

    /// <summary>Loss term weight · mean((x − target)²).</summary>
    public static Variable MseLoss(this Tape tape, Variable x, Tensor target, float weight)
    {
        Operand(x, "mse loss");
        ShapeCheck.Same("mse loss", "input", x.Shape, "target", target.Shape);
        var loss = tape.Pool.Rent(Shape4.Scalar);
        Losses.Mse(x.Value, target, loss, weight);
        return tape.Record(loss, x.RequiresGrad, _ =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            Losses.MseBackward(x.Value, target, dx, weight, accumulate);
        }, isLoss: true);
    }

    /// <summary>
    /// Loss term weight · W₂²(N(μ, Σ), N(μ_s, Σ_s)) of x's channel mean and covariance over its H·W positions against
    /// <paramref name="target"/> (<see cref="GaussianW2"/>; <paramref name="iterations"/> Newton–Schulz steps). The
    /// gradients to the moments are computed with the value (a loss term's upstream gradient is 1); backward takes them
    /// to x (<see cref="Moments.Backward"/>).
    /// </summary>
    public static Variable GaussianW2Loss(this Tape tape, Variable x, GaussianTarget target, float weight, int iterations)
    {
        Operand(x, "gaussian w2 loss");
        ShapeCheck.BatchOne("gaussian w2 loss", "x", x.Shape);
        int c = x.Shape.C;
        float scale = 1f / x.Shape.Plane;
        var mean = tape.Pool.Rent(Moments.MeanShape(x.Shape));
        var second = tape.Pool.Rent(MatMul.Shape(c, c));
        var dMean = tape.Pool.Rent(mean.Shape);
        var dSecond = tape.Pool.Rent(second.Shape);
        var loss = tape.Pool.Rent(Shape4.Scalar);
        Moments.Forward(x.Value, mean, second, scale);
        GaussianW2.Loss(mean, second, target, weight, iterations, loss, dMean, dSecond);
        return tape.Record(loss, x.RequiresGrad, _ =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            Moments.Backward(x.Value, dMean, dSecond, dx, scale, accumulate);
        }, isLoss: true);
    }

    /// <summary>
    /// A loss term whose gradient with respect to <paramref name="x"/> is supplied, not derived: backward calls
    /// <paramref name="gradient"/>(x, dx, accumulate). Its value is 0: the loss itself is computed elsewhere. The tiled
    /// evaluation seeds a tile's activations with it — their share of a loss defined over the whole image, e.g. the
    /// style loss through the whole image's Gram matrix, ∂L/∂F_tile = scale · (dG + dGᵀ) · F_tile.
    /// </summary>
    public static Variable ExternalGradient(this Tape tape, Variable x, Action<Tensor, Tensor, bool> gradient)
    {
        Operand(x, "external gradient");
        var loss = tape.Pool.Rent(Shape4.Scalar);
        loss.Fill(0f);
        return tape.Record(loss, x.RequiresGrad, _ =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            gradient(x.Value, dx, accumulate);
        }, isLoss: true);
    }

    /// <summary>Loss term weight · TV(x) (squared differences of neighbours; see TotalVariation).</summary>
    public static Variable TotalVariationLoss(this Tape tape, Variable x, float weight)
    {
        Operand(x, "total variation loss");
        var loss = tape.Pool.Rent(Shape4.Scalar);
        TotalVariation.Forward(x.Value, loss, weight);
        return tape.Record(loss, x.RequiresGrad, _ =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            TotalVariation.Backward(x.Value, dx, weight, accumulate);
        }, isLoss: true);
    }
}

public enum PoolingKind
{
    Max,
    Avg,
}

public static class PreprocessOps
{
    /// <summary>y[c] = x[src[c]]·mul[c] + add[c] (network input preprocessing; see ChannelAffine).</summary>
    public static Variable ChannelAffine(this Tape tape, Variable x, ChannelAffine.Coefficients k)
    {
        Ops.Operand(x, "channel affine");
        var y = tape.Pool.Rent(x.Shape);
        Kernels.ChannelAffine.Forward(x.Value, y, k);
        return tape.Record(y, x.RequiresGrad, output =>
        {
            var (dx, accumulate) = tape.GradTarget(x);
            Kernels.ChannelAffine.Backward(output.Grad!, dx, k, accumulate);
        });
    }
}
