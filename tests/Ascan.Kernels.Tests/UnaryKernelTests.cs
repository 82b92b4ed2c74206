// Unary and activation kernels against their float64 reference twins at every length 0–257 and large odd sizes.
using System.Numerics;
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

public class UnaryKernelTests
{
    public static readonly TheoryData<string> Ops = new() { "neg", "exp", "log", "sqrt", "abs", "pow2", "pow3", "pow1.7", "powhalf", "clamp", "clamplo", "relu", "gelu", "silu", "sigmoid", "tanh" };

    private static readonly int[] Lengths = Enumerable.Range(0, 258).Concat(new[] { 1031, 4099, 300007 }).ToArray();

    internal static (string name, double p0, double p1) Parse(string op) => op switch
    {
        "pow2" => ("pow", 2, 0),
        "pow3" => ("pow", 3, 0),
        "pow1.7" => ("pow", 1.7, 0),
        "powhalf" => ("pow", 0.5, 0),
        "clamp" => ("clamp", -0.5, 0.75),
        "clamplo" => ("clamp", -0.25, double.PositiveInfinity),
        _ => (op, 0, 0),
    };

    private static (double lo, double hi) Range(string op) => op switch
    {
        "log" or "sqrt" or "pow1.7" or "powhalf" => (0.01, 10),
        "exp" => (-30, 30),
        _ => (-8, 8),
    };

    internal static void Forward<T>(string op, Span<T> y, ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (name, p0, p1) = Parse(op);
        T a = T.CreateTruncating(p0), b = T.CreateTruncating(p1);
        switch (name)
        {
            case "neg": UnaryKernel.Apply<NegOp<T>, T>(y, x); break;
            case "exp": UnaryKernel.Apply<ExpOp<T>, T>(y, x); break;
            case "log": UnaryKernel.Apply<LogOp<T>, T>(y, x); break;
            case "sqrt": UnaryKernel.Apply<SqrtOp<T>, T>(y, x); break;
            case "abs": UnaryKernel.Apply<AbsOp<T>, T>(y, x); break;
            case "pow": UnaryKernel.Apply(y, x, new PowOp<T>(a)); break;
            case "clamp": UnaryKernel.Apply(y, x, new ClampOp<T>(a, b)); break;
            case "relu": ActivationKernels.Relu(y, x); break;
            case "gelu": ActivationKernels.Gelu(y, x); break;
            case "silu": ActivationKernels.Silu(y, x); break;
            case "sigmoid": UnaryKernel.Apply<SigmoidOp<T>, T>(y, x); break;
            case "tanh": UnaryKernel.Apply<TanhOp<T>, T>(y, x); break;
            default: throw new ArgumentException(op);
        }
    }

    internal static void Backward<T>(string op, Span<T> dx, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, ReadOnlySpan<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (name, p0, p1) = Parse(op);
        T a = T.CreateTruncating(p0), b = T.CreateTruncating(p1);
        switch (name)
        {
            case "neg": UnaryKernel.Backward<NegOp<T>, T>(dx, dy, x, x); break;
            case "exp": UnaryKernel.Backward<ExpGrad<T>, T>(dx, dy, x, y); break;
            case "log": UnaryKernel.Backward<LogGrad<T>, T>(dx, dy, x, x); break;
            case "sqrt": UnaryKernel.Backward<SqrtGrad<T>, T>(dx, dy, x, y); break;
            case "abs": UnaryKernel.Backward<AbsGrad<T>, T>(dx, dy, x, x); break;
            case "pow": UnaryKernel.Backward(dx, dy, x, x, new PowGrad<T>(a)); break;
            case "clamp": UnaryKernel.Backward(dx, dy, x, x, new ClampGrad<T>(a, b)); break;
            case "relu": ActivationKernels.ReluBackward(dx, dy, x); break;
            case "gelu": ActivationKernels.GeluBackward(dx, dy, x); break;
            case "silu": ActivationKernels.SiluBackward(dx, dy, x); break;
            case "sigmoid": UnaryKernel.Backward<SigmoidGrad<T>, T>(dx, dy, x, y); break;
            case "tanh": UnaryKernel.Backward<TanhGrad<T>, T>(dx, dy, x, y); break;
            default: throw new ArgumentException(op);
        }
    }

    private static T[] Random<T>(Random rng, int n, double lo, double hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(lo + (hi - lo) * rng.NextDouble());
        // Exact kink points (0, clamp bounds) so the conventions there are exercised.
        if (n > 5) { a[1] = T.Zero; a[3] = T.CreateTruncating(-0.5); a[5] = T.CreateTruncating(0.75); }
        return a;
    }

    private static void Close<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, double rtol, double atol, string what) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (double.IsNaN(e) && double.IsNaN(a)) continue;
            if (e == a) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}: index {i} of {expected.Length}: expected {e:G10}, got {a:G10}");
        }
    }

    private static void CheckAll<T>(string op, double rtol, double atol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(op.GetHashCode() & 0xffff);
        var (name, p0, p1) = Parse(op);
        var (lo, hi) = Range(op);
        foreach (int n in Lengths)
        {
            var x = Random<T>(rng, n, lo, hi);
            if (name is "log" or "sqrt" || (name == "pow" && p0 % 1 != 0)) for (int i = 0; i < n; i++) x[i] = T.Abs(x[i]) + T.CreateTruncating(0.01);
            var y = new T[n]; var yr = new T[n];
            Forward<T>(op, y, x);
            UnaryReference.Apply<T>(name, yr, x, p0, p1);
            Close<T>(yr, y, rtol, atol, $"{op}<{typeof(T).Name}> forward n={n}");

            var dy = Random<T>(rng, n, -1, 1);
            var dx = Random<T>(rng, n, -1, 1); var dxr = (T[])dx.Clone();
            Backward<T>(op, dx, dy, x, y);
            UnaryReference.Backward<T>(name, dxr, dy, x, p0, p1);
            Close<T>(dxr, dx, rtol * 4, atol * 4, $"{op}<{typeof(T).Name}> backward n={n}");
        }
    }

    [Theory, MemberData(nameof(Ops))]
    public void Unary_MatchesReference_Float(string op) => CheckAll<float>(op, 2e-6, 1e-6);

    [Theory, MemberData(nameof(Ops))]
    public void Unary_MatchesReference_Double(string op) => CheckAll<double>(op, 1e-12, 1e-13);

    [Fact]
    public void Unary_InPlace_AliasesInput()
    {
        var x = Enumerable.Range(0, 37).Select(i => (float)(i - 18) / 5).ToArray();
        var expected = new float[37];
        ActivationKernels.Gelu<float>(expected, x);
        ActivationKernels.Gelu<float>(x, x);
        Assert.Equal(expected, x);
    }

    [Fact]
    public void Activations_SpecialValues_Float()
    {
        float[] x = { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 100f, -100f, 1e-30f, -1e-30f, 20f, -20f, 3f, -3f, 0.1f, -0.1f, 1f };
        var y = new float[x.Length];
        ActivationKernels.Gelu<float>(y, x);
        Assert.True(float.IsNaN(y[0])); Assert.Equal(float.PositiveInfinity, y[1]); Assert.Equal(0f, y[3]); Assert.Equal(100f, y[5]); Assert.Equal(0f, y[6], 1e-30f);
        UnaryKernel.Apply<SigmoidOp<float>, float>(y, x);
        Assert.True(float.IsNaN(y[0])); Assert.Equal(1f, y[1]); Assert.Equal(0f, y[2]); Assert.Equal(0.5f, y[3]); Assert.Equal(1f, y[5]);
        UnaryKernel.Apply<TanhOp<float>, float>(y, x);
        Assert.True(float.IsNaN(y[0])); Assert.Equal(1f, y[1]); Assert.Equal(-1f, y[2]); Assert.Equal(0f, y[3]); Assert.Equal(1e-30f, y[7]); Assert.Equal(-1f, y[6]);
        UnaryKernel.Apply<ReluOp<float>, float>(y, x);
        Assert.True(float.IsNaN(y[0])); Assert.Equal(0f, y[2]); Assert.Equal(100f, y[5]);
    }
}
