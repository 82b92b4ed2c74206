// The one runner for PyTorch golden fixtures: inputs → op or module in float32/float64 → outputs, gradients, parameter gradients.
using Ascan.Core;

namespace Ascan.Core.Tests;

/// <summary>
/// Elementwise bound |actual − expected| ≤ Atol + Rtol·|expected| + OfMax·max|expected|. The last term scales with the
/// whole tensor, so a float32 result can be held to the float64 truth relative to the tensor's largest magnitude.
/// </summary>
public readonly record struct Tolerance(double Rtol, double Atol, double OfMax = 0)
{
    /// <summary>The absolute part of the bound for <paramref name="expected"/>: Atol + OfMax·max|expected|.</summary>
    internal double AtolFor(double[] expected) => OfMax == 0 ? Atol : Atol + OfMax * Scale(expected);

    // An empty tensor has scale 1 and an all-zero one 1e-30, so the bound stays finite and positive.
    private static double Scale(double[] v) => v.Length == 0 ? 1 : Math.Max(v.Max(Math.Abs), 1e-30);
}

/// <summary>The tolerances of one fixture run: outputs, and gradients (of inputs and of parameters).</summary>
public readonly record struct FixtureTolerance(Tolerance Out, Tolerance Grad)
{
    public FixtureTolerance(Tolerance all) : this(all, all) { }

    /// <summary>float32: outputs 1e-5 relative (atol 1e-6), gradients 1e-4 (atol 1e-5); float64: 1e-10 (atol 1e-12).</summary>
    public static FixtureTolerance Standard(DType dtype) => dtype == DType.F32
        ? new(Out: new(1e-5, 1e-6), Grad: new(1e-4, 1e-5))
        : new(new Tolerance(1e-10, 1e-12));
}

/// <summary>One compared tensor: its stored name, the largest |actual − expected| and the largest |expected|.</summary>
public readonly record struct FixtureComparison(string Name, double MaxAbsDiff, double MaxExpected)
{
    public double Relative => MaxAbsDiff / MaxExpected;
}

public static class OpFixture
{
    /// <summary>
    /// Loads fixture <paramref name="name"/> ("family/case") and makes every input <c>in.&lt;k&gt;</c> a
    /// <paramref name="dtype"/> tensor; those with a stored <c>grad.&lt;k&gt;</c> require gradients. Runs
    /// <paramref name="f"/>, checks each output's shape and values against <c>out</c> / <c>out.&lt;k&gt;</c>, then, when
    /// the fixture stores upstream gradients, back-propagates each <c>gout</c> into its output and checks every input
    /// gradient (each must exist). Outputs are matched to keys in order: "out" alone, else tuple indices ascending,
    /// else names in ordinal order. Integer inputs (labels, indices) come as tensors too; ops taking int arrays read
    /// them with <c>fx.Input(k).ToInt32()</c>. Returns what was compared.
    /// </summary>
    public static IReadOnlyList<FixtureComparison> Check(string name, DType dtype, FixtureTolerance tol,
        Func<FixtureFile, IReadOnlyDictionary<string, Tensor>, Tensor[]> f) =>
        CheckModule(name, dtype, tol, (fx, x) => (f(fx, x), []));

    /// <summary>Runs <see cref="Check"/> in float32, then in float64, each with the tolerance <paramref name="tol"/> gives.</summary>
    public static void CheckF32AndF64(string name, Func<DType, FixtureTolerance> tol,
        Func<FixtureFile, IReadOnlyDictionary<string, Tensor>, Tensor[]> f)
    {
        foreach (var dtype in new[] { DType.F32, DType.F64 })
            Check(name, dtype, tol(dtype), f);
    }

    /// <summary>
    /// <see cref="Check"/> for a module case: <paramref name="f"/> builds the module, loads its state
    /// (<see cref="FixtureTensors.StateTensors"/>), runs it and returns its outputs and named parameters. After the
    /// backward the parameter names must be exactly the stored <c>grad.param.*</c> keys, and each parameter's gradient
    /// is checked like an input's.
    /// </summary>
    public static IReadOnlyList<FixtureComparison> CheckModule(string name, DType dtype, FixtureTolerance tol,
        Func<FixtureFile, IReadOnlyDictionary<string, Tensor>, (Tensor[] Outputs, IEnumerable<(string Name, Tensor Value)> Parameters)> f)
    {
        var fx = FixtureFile.Load(name);
        var inputs = new Dictionary<string, Tensor>();
        foreach (var (key, stored) in fx.Inputs)
        {
            var x = stored.ToTensor(dtype);
            x.RequiresGrad = fx.Grads.ContainsKey(key);
            inputs[key] = x;
        }
        var (outputs, parameters) = f(fx, inputs);

        var keys = fx.Outputs.Keys.OrderBy(k => int.TryParse(k, out int i) ? i : int.MaxValue).ThenBy(k => k, StringComparer.Ordinal).ToArray();
        Assert.True(keys.Length == outputs.Length,
            $"Fixture '{name}': the op gave {outputs.Length} outputs, the fixture stores {keys.Length} ({string.Join(", ", keys)}).");
        var compared = new List<FixtureComparison>();
        for (int i = 0; i < outputs.Length; i++)
            compared.Add(Compare(fx, keys[i] == "out" ? "out" : "out." + keys[i], outputs[i], tol.Out));
        if (fx.GradOuts.Count == 0)
            return compared; // a forward-only case

        // L = Σ_k sum(out_k · gout_k): each output back-propagates its own gout; gradients accumulate in the leaves.
        for (int i = 0; i < outputs.Length; i++)
        {
            string gout = keys[i] == "out" ? "gout" : "gout." + keys[i];
            if (outputs[i].RequiresGrad && fx.Has(gout))
                outputs[i].Backward(fx.Get(gout).ToTensor(dtype));
        }
        foreach (var (key, x) in inputs)
        {
            if (x.RequiresGrad)
                compared.Add(Compare(fx, "grad." + key, x.Grad, tol.Grad));
        }
        var named = parameters.ToDictionary(p => p.Name, p => p.Value);
        Assert.Equal(fx.StateGrads.Keys.Order(StringComparer.Ordinal), named.Keys.Order(StringComparer.Ordinal));
        foreach (var key in fx.StateGrads.Keys.Order(StringComparer.Ordinal))
            compared.Add(Compare(fx, "grad.param." + key, named[key].Grad, tol.Grad));
        return compared;
    }

    private static FixtureComparison Compare(FixtureFile fx, string stored, Tensor? actual, Tolerance tol)
    {
        Assert.True(actual != null, $"Fixture '{fx.Name}': no tensor to compare with {stored} (a gradient that was never computed).");
        var expected = fx.Get(stored).Data;
        fx.AssertShape(stored, actual!.Shape);
        var values = actual.ToArray<double>();
        fx.AssertClose(stored, values, tol.Rtol, tol.AtolFor(expected));
        double maxDiff = 0, maxExpected = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(values[i] - expected[i]));
            maxExpected = Math.Max(maxExpected, Math.Abs(expected[i]));
        }
        return new FixtureComparison(stored, maxDiff, maxExpected);
    }

    /// <summary>The file of fixture <paramref name="name"/> ("family/case") next to the test binaries.</summary>
    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".safetensors");

    /// <summary>Case names (without the family) of every fixture of <paramref name="family"/>, in ordinal order.</summary>
    public static string[] CaseNames(string family) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "fixtures", family), "*.safetensors")
            .Select(p => Path.GetFileNameWithoutExtension(p)).Order(StringComparer.Ordinal).ToArray();

    public static TheoryData<string> Cases(string family) => new(CaseNames(family));

    /// <summary>Every case of <paramref name="family"/>, once in float32 and once in float64.</summary>
    public static TheoryData<string, DType> CasesF32AndF64(string family)
    {
        var data = new TheoryData<string, DType>();
        foreach (var name in CaseNames(family))
        {
            data.Add(name, DType.F32);
            data.Add(name, DType.F64);
        }
        return data;
    }

    /// <summary>An NCHW fixture tensor as the NHWC view Ascan's spatial ops take.</summary>
    public static Tensor Nhwc(Tensor nchw) => nchw.Permute(0, 2, 3, 1);

    /// <summary>An NHWC result as the NCHW view the fixture stores.</summary>
    public static Tensor Nchw(Tensor nhwc) => nhwc.Permute(0, 3, 1, 2);
}

/// <summary>Fixture tensors as Ascan tensors, and the case's params by key.</summary>
public static class FixtureTensors
{
    /// <summary>A copy of <paramref name="t"/> as a tensor of <paramref name="dtype"/> (stored values are float32-exact).</summary>
    public static Tensor ToTensor(this FixtureTensor t, DType dtype) =>
        dtype == DType.F32 ? Tensor.FromArray(t.ToSingle(), t.Shape) : Tensor.FromArray(t.Data, t.Shape);

    /// <summary>The module state <c>param.*</c> as tensors of <paramref name="dtype"/>, keyed as in the state dict.</summary>
    public static Dictionary<string, Tensor> StateTensors(this FixtureFile fx, DType dtype) =>
        fx.State.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor(dtype));

    public static int Int(this FixtureFile fx, string key) => fx.Params.GetProperty(key).GetInt32();

    public static bool Bool(this FixtureFile fx, string key) => fx.Params.GetProperty(key).GetBoolean();

    public static double Double(this FixtureFile fx, string key) => fx.Params.GetProperty(key).GetDouble();

    public static int[] Ints(this FixtureFile fx, string key) =>
        fx.Params.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
