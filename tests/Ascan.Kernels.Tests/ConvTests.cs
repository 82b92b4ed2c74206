// Conv2d kernels against the naive reference: every geometry variant, forward and both backwards, float and double.
using Ascan.Kernels;

namespace Ascan.Kernels.Tests;

[Collection("KernelGlobals")] // one test changes KernelPool.Threads
public class ConvTests
{
    // (B, H, W, C, O, KH, KW, stride, pad, dilation, groups)
    public static readonly TheoryData<string> Geometries = new()
    {
        "2,5,7,3,5,1,1,1,0,1,1",     // pointwise (plain GEMM)
        "3,6,5,4,6,1,1,1,0,1,2",     // pointwise, grouped
        "2,7,6,3,4,1,1,2,0,1,1",     // 1×1 stride 2 (im2col)
        "1,6,6,4,3,1,1,1,1,1,1",     // 1×1 padded
        "2,9,8,5,7,3,3,1,1,1,1",     // 3×3 same
        "2,9,11,4,6,3,3,2,1,1,1",    // 3×3 stride 2
        "1,13,12,3,33,5,5,1,2,1,1",  // 5×5
        "2,15,14,3,16,7,7,2,3,1,1",  // 7×7 stride 2 stem
        "2,11,10,4,5,3,3,1,2,2,1",   // dilation 2
        "2,8,9,6,4,3,3,1,1,1,2",     // groups 2
        "2,10,9,6,6,3,3,2,1,1,3",    // groups 3, stride 2
        "2,9,9,17,17,3,3,1,1,1,17",  // depthwise 3×3
        "2,12,11,33,33,7,7,2,3,1,33",// depthwise 7×7 stride 2
        "1,9,10,8,8,3,3,1,2,2,8",    // depthwise dilation 2
        "2,6,6,4,8,3,3,1,1,1,4",     // grouped with channel multiplier 2 (im2col path)
        "1,5,4,2,3,3,2,1,0,1,1",     // non-square kernel, no padding
        "1,1,1,3,2,1,1,1,0,1,1",     // single pixel
        "3,20,19,40,70,3,3,1,1,1,1", // bigger: several GEMM tiles, odd sizes
    };

    private static Conv2dGeometry Geo(int b, int h, int w, int c, int o, int kh, int kw, int s, int p, int d, int grp)
        => new(b, h, w, c, o, kh, kw, s, s, p, p, d, d, grp);

    private static double[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new double[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static void AssertClose(double[] want, double[] got, double rel, string what)
    {
        double scale = want.Max(Math.Abs) + 1e-30;
        for (int i = 0; i < want.Length; i++)
            if (!(Math.Abs(got[i] - want[i]) <= rel * scale))
                Assert.Fail($"{what}[{i}] = {got[i]}, expected {want[i]} (max |ref| {scale}, rel tol {rel})");
    }

    private static void Check<T>(Conv2dGeometry g, Activation act, double rel) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var x = Random(g.InputLength, 1);
        var w = Random(g.WeightLength, 2);
        var bias = Random(g.O, 3);
        var dy = Random(g.OutputLength, 4);
        var dx0 = Random(g.InputLength, 5);   // backwards accumulate onto existing values
        var dw0 = Random(g.WeightLength, 6);
        T[] C(double[] v) => Array.ConvertAll(v, T.CreateTruncating);
        double[] D(T[] v) => Array.ConvertAll(v, double.CreateTruncating);

        var yRef = new double[g.OutputLength];
        ConvReference.Forward<double>(yRef, x, w, bias, g, act);
        var y = new T[g.OutputLength];
        Conv2dKernels.Forward<T>(y, C(x), C(w), C(bias), g, act);
        AssertClose(yRef, D(y), rel, "y");

        var dxRef = (double[])dx0.Clone();
        ConvReference.BackwardData<double>(dxRef, dy, w, g);
        var dx = C(dx0);
        Conv2dKernels.BackwardData<T>(dx, C(dy), C(w), g);
        AssertClose(dxRef, D(dx), rel, "dx");

        var dwRef = (double[])dw0.Clone();
        ConvReference.BackwardWeight<double>(dwRef, x, dy, g);
        var dw = C(dw0);
        Conv2dKernels.BackwardWeight<T>(dw, C(x), C(dy), g);
        AssertClose(dwRef, D(dw), rel, "dw");
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2d_Double_MatchesReference(string geometry) => Check<double>(Parse(geometry), Activation.None, 1e-12);

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Conv2d_Float_MatchesReference(string geometry) => Check<float>(Parse(geometry), Activation.None, 1e-5);

    private static Conv2dGeometry Parse(string spec)
    {
        var v = spec.Split(',').Select(int.Parse).ToArray();
        return Geo(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
    }

    [Theory]
    [InlineData(Activation.Relu)]
    [InlineData(Activation.Gelu)]
    [InlineData(Activation.Silu)]
    public void Conv2d_FusedActivation_MatchesReference(Activation act)
    {
        foreach (var g in new[] { Geo(2, 9, 8, 5, 7, 3, 3, 1, 1, 1, 1), Geo(2, 5, 7, 3, 5, 1, 1, 1, 0, 1, 1), Geo(2, 9, 9, 17, 17, 3, 3, 1, 1, 1, 17) })
        {
            Check<float>(g, act, 1e-5);
            Check<double>(g, act, 1e-12);
        }
    }

    [Fact]
    public void Conv2d_Float_ThreadCount_BitIdentical()
    {
        var g = Geo(3, 17, 15, 24, 40, 3, 3, 1, 1, 1, 1);
        var dg = Geo(3, 17, 15, 24, 24, 3, 3, 2, 1, 1, 24);
        float[] F(double[] v) => Array.ConvertAll(v, x => (float)x);
        (float[], float[], float[]) Run(Conv2dGeometry geo)
        {
            var y = new float[geo.OutputLength];
            var dx = new float[geo.InputLength];
            var dw = new float[geo.WeightLength];
            var x = F(Random(geo.InputLength, 1)); var w = F(Random(geo.WeightLength, 2)); var dy = F(Random(geo.OutputLength, 3));
            Conv2dKernels.Forward<float>(y, x, w, F(Random(geo.O, 4)), geo, Activation.Gelu);
            Conv2dKernels.BackwardData<float>(dx, dy, w, geo);
            Conv2dKernels.BackwardWeight<float>(dw, x, dy, geo);
            return (y, dx, dw);
        }
        {
            int old = KernelPool.Threads;
            try
            {
                foreach (var geo in new[] { g, dg })
                {
                    KernelPool.Threads = 1;
                    var one = Run(geo);
                    KernelPool.Threads = 2;
                    var two = Run(geo);
                    Assert.Equal(one.Item1, two.Item1);
                    Assert.Equal(one.Item2, two.Item2);
                    Assert.Equal(one.Item3, two.Item3);
                }
            }
            finally { KernelPool.Threads = old; }
        }
    }

    [Fact]
    public void Conv2d_TorchLayout_RoundTrips()
    {
        var g = Geo(1, 5, 5, 6, 4, 3, 2, 1, 1, 1, 2);
        var torch = Random(g.WeightLength, 7);
        var ours = new double[g.WeightLength];
        Conv2dKernels.FromTorchLayout<double>(ours, torch, g);
        // torch[o, ci, kh, kw] lands at ours[kh, kw, ci, o]
        int cg = g.Cg;
        Assert.Equal(torch[((3 * cg + 2) * g.KH + 1) * g.KW + 1], ours[((1 * g.KW + 1) * cg + 2) * g.O + 3]);
        var back = new double[g.WeightLength];
        Conv2dKernels.ToTorchLayout<double>(back, ours, g);
        Assert.Equal(torch, back);
    }

    [Fact]
    public void Conv2d_BadGeometry_Throws()
    {
        var g = Geo(1, 5, 5, 6, 4, 3, 3, 1, 1, 1, 4); // 4 does not divide 6
        Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward<float>(new float[100], new float[150], new float[100], default, g));
    }
}
