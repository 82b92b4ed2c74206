// Loads a PyTorch golden fixture (tests/fixtures/<family>/<case>.safetensors) and compares results against it.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Ascan.Core.IO;
using Xunit.Sdk;

namespace Ascan.Core.Tests;

/// <summary>One stored tensor: its shape and values (every dtype widened to double; integers are exact up to 2^53).</summary>
public sealed record FixtureTensor(int[] Shape, double[] Data)
{
    public int Count => Data.Length;

    public float[] ToSingle() => Array.ConvertAll(Data, v => (float)v);

    public long[] ToInt64() => Array.ConvertAll(Data, v => (long)v);

    public int[] ToInt32() => Array.ConvertAll(Data, v => (int)v);
}

/// <summary>
/// A fixture written by tools/gen_fixtures.py (naming convention in tests/fixtures/README.md): inputs
/// <c>in.&lt;name&gt;</c>, module state <c>param.&lt;key&gt;</c>, outputs <c>out</c> / <c>out.&lt;k&gt;</c>,
/// upstream gradients <c>gout</c> / <c>gout.&lt;k&gt;</c>, gradients <c>grad.&lt;name&gt;</c> and
/// <c>grad.param.&lt;key&gt;</c>. References are float64 results from float32-representable inputs.
/// </summary>
public sealed class FixtureFile
{
    private readonly Dictionary<string, FixtureTensor> _tensors;

    private FixtureFile(string name, string path, IReadOnlyDictionary<string, string> metadata, Dictionary<string, FixtureTensor> tensors)
    {
        Name = name;
        FilePath = path;
        Metadata = metadata;
        _tensors = tensors;
        Op = metadata.TryGetValue("op", out var op) ? op : name;
        Params = ParseJson(metadata, "params");
        Inputs = WithPrefix("in.");
        State = WithPrefix("param.");
        Grads = WithPrefix("grad.", exclude: "grad.param.");
        StateGrads = WithPrefix("grad.param.");
        Outputs = tensors.ContainsKey("out") ? new Dictionary<string, FixtureTensor> { ["out"] = tensors["out"] } : WithPrefix("out.");
        GradOuts = tensors.ContainsKey("gout") ? new Dictionary<string, FixtureTensor> { ["gout"] = tensors["gout"] } : WithPrefix("gout.");
    }

    /// <summary>"family/case", as passed to <see cref="Load"/>.</summary>
    public string Name { get; }

    public string FilePath { get; }

    public string Op { get; }

    /// <summary>The case's params object (empty object when none), e.g. <c>Params.GetProperty("eps").GetDouble()</c>.</summary>
    public JsonElement Params { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Inputs by name (without the "in." prefix).</summary>
    public IReadOnlyDictionary<string, FixtureTensor> Inputs { get; }

    /// <summary>Module state_dict entries by key (without "param."), as stored before the forward.</summary>
    public IReadOnlyDictionary<string, FixtureTensor> State { get; }

    /// <summary>Outputs: {"out"} for a single output, else by key without "out." ("0", "1" … for tuples).</summary>
    public IReadOnlyDictionary<string, FixtureTensor> Outputs { get; }

    /// <summary>Upstream gradients keyed like <see cref="Outputs"/>.</summary>
    public IReadOnlyDictionary<string, FixtureTensor> GradOuts { get; }

    /// <summary>Gradients of inputs by input name (without "grad.").</summary>
    public IReadOnlyDictionary<string, FixtureTensor> Grads { get; }

    /// <summary>Gradients of module parameters by state-dict key (without "grad.param.").</summary>
    public IReadOnlyDictionary<string, FixtureTensor> StateGrads { get; }

    /// <summary>The single output "out".</summary>
    public FixtureTensor Output => Get("out");

    /// <summary>The upstream gradient "gout" of the single output.</summary>
    public FixtureTensor GradOut => Get("gout");

    public IEnumerable<string> StoredNames => _tensors.Keys;

    public string RegenerateCommand => $"/usr/bin/python3 tools/gen_fixtures.py --only {Name.Split('/')[0]}";

    /// <summary>Loads fixtures/&lt;name&gt;.safetensors from next to the test assembly, e.g. <c>Load("elementwise/gelu")</c>.</summary>
    public static FixtureFile Load(string name)
    {
        if (name.EndsWith(".safetensors", StringComparison.Ordinal))
            name = name[..^".safetensors".Length];
        string path = System.IO.Path.Combine(AppContext.BaseDirectory, "fixtures", name + ".safetensors");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Fixture '{name}' not found at {path}. Generate it with " +
                $"`/usr/bin/python3 tools/gen_fixtures.py --only {name.Split('/')[0]}` and rebuild the test project " +
                "(tests/fixtures/** is copied next to the test binaries).", path);
        }
        var file = SafetensorsFile.Open(path);
        var tensors = new Dictionary<string, FixtureTensor>(StringComparer.Ordinal);
        foreach (var (key, entry) in file.Entries)
            tensors[key] = new FixtureTensor((int[])entry.Shape.Clone(), file.ReadDouble(key));
        return new FixtureFile(name, path, file.Metadata, tensors);
    }

    public bool Has(string storedName) => _tensors.ContainsKey(storedName);

    /// <summary>A tensor by its stored name ("in.x", "out", "grad.param.weight" …).</summary>
    public FixtureTensor Get(string storedName)
    {
        if (_tensors.TryGetValue(storedName, out var tensor))
            return tensor;
        throw new KeyNotFoundException(
            $"Fixture '{Name}' has no tensor '{storedName}'; it holds: {string.Join(", ", _tensors.Keys)}. ({RegenerateCommand})");
    }

    public FixtureTensor Input(string name) => Get("in." + name);

    public FixtureTensor Grad(string name) => Get("grad." + name);

    /// <summary>PyTorch's own float32-vs-float64 max abs error for a stored out/grad, if recorded: a guide for float32 atol.</summary>
    public double? Float32Error(string storedName)
    {
        var errors = ParseJson(Metadata, "f32_err");
        return errors.TryGetProperty(storedName, out var value) ? value.GetDouble() : null;
    }

    public void AssertShape(string storedName, ReadOnlySpan<int> actualShape)
    {
        var expected = Get(storedName).Shape;
        if (!actualShape.SequenceEqual(expected))
        {
            throw new XunitException(
                $"Fixture '{Name}': shape of {storedName} is [{string.Join(", ", actualShape.ToArray())}], " +
                $"expected [{string.Join(", ", expected)}]. ({RegenerateCommand})");
        }
    }

    /// <summary>Compares <paramref name="actual"/> with the stored tensor <paramref name="storedName"/>.</summary>
    public void AssertClose(string storedName, ReadOnlySpan<double> actual, double rtol, double atol) =>
        AssertClose(storedName, Get(storedName).Data, actual, rtol, atol);

    public void AssertClose(string storedName, ReadOnlySpan<float> actual, double rtol, double atol) =>
        AssertClose(storedName, Get(storedName).Data, Widen(actual), rtol, atol);

    public void AssertClose(string what, ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol, double atol) =>
        AssertClose(what, expected, Widen(actual), rtol, atol);

    /// <summary>
    /// Passes when every |actual − expected| ≤ atol + rtol·|expected| (NaN only matches NaN). On failure reports the
    /// fixture, the count of bad elements, the worst absolute and relative differences with their indices, the first
    /// values of both, and how to regenerate the fixture.
    /// </summary>
    public void AssertClose(string what, ReadOnlySpan<double> expected, ReadOnlySpan<double> actual, double rtol, double atol)
    {
        string header = $"Fixture '{Name}' ({Op}): {what}";
        if (expected.Length != actual.Length)
        {
            throw new XunitException(
                $"{header}: length {actual.Length}, expected {expected.Length}.\n" +
                $"  expected: {Preview(expected)}\n  actual:   {Preview(actual)}\n  Regenerate: {RegenerateCommand}");
        }

        int bad = 0, firstBad = -1, maxAbsAt = -1, maxRelAt = -1;
        double maxAbs = 0, maxRel = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool ok;
            double diff;
            if (double.IsNaN(e) || double.IsNaN(a))
            {
                ok = double.IsNaN(e) && double.IsNaN(a);
                diff = ok ? 0 : double.PositiveInfinity;
            }
            else
            {
                diff = e == a ? 0 : Math.Abs(a - e); // equal infinities differ by 0, not NaN
                ok = diff <= atol + rtol * Math.Abs(e);
            }
            double rel = diff == 0 ? 0 : diff / Math.Max(Math.Abs(e), double.Epsilon);
            if (diff > maxAbs || (maxAbsAt < 0 && diff > 0))
            {
                maxAbs = diff;
                maxAbsAt = i;
            }
            if (rel > maxRel)
            {
                maxRel = rel;
                maxRelAt = i;
            }
            if (!ok)
            {
                bad++;
                if (firstBad < 0)
                    firstBad = i;
            }
        }
        if (bad == 0)
            return;

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture,
            $"{header}: {bad} of {expected.Length} elements differ (rtol {rtol:G3}, atol {atol:G3}).\n");
        message.Append(CultureInfo.InvariantCulture,
            $"  first mismatch at [{firstBad}]: expected {expected[firstBad]:G9}, actual {actual[firstBad]:G9}\n");
        if (maxAbsAt >= 0)
        {
            message.Append(CultureInfo.InvariantCulture,
                $"  max abs diff {maxAbs:G3} at [{maxAbsAt}] (expected {expected[maxAbsAt]:G9}, actual {actual[maxAbsAt]:G9})\n");
        }
        if (maxRelAt >= 0)
        {
            message.Append(CultureInfo.InvariantCulture,
                $"  max rel diff {maxRel:G3} at [{maxRelAt}] (expected {expected[maxRelAt]:G9}, actual {actual[maxRelAt]:G9})\n");
        }
        message.Append($"  expected: {Preview(expected)}\n");
        message.Append($"  actual:   {Preview(actual)}\n");
        if (Float32Error(what) is double f32)
            message.Append(CultureInfo.InvariantCulture, $"  (PyTorch float32 vs float64 max abs error here: {f32:G3})\n");
        message.Append($"  file: {FilePath}\n  Regenerate: {RegenerateCommand}");
        throw new XunitException(message.ToString());
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = values[i];
        return result;
    }

    private static string Preview(ReadOnlySpan<double> values, int count = 8)
    {
        var shown = new List<string>();
        for (int i = 0; i < Math.Min(count, values.Length); i++)
            shown.Add(values[i].ToString("G7", CultureInfo.InvariantCulture));
        return $"[{string.Join(", ", shown)}{(values.Length > count ? $", … ({values.Length} total)" : "")}]";
    }

    private Dictionary<string, FixtureTensor> WithPrefix(string prefix, string? exclude = null) =>
        _tensors.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)
                             && (exclude is null || !kv.Key.StartsWith(exclude, StringComparison.Ordinal)))
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value, StringComparer.Ordinal);

    private static JsonElement ParseJson(IReadOnlyDictionary<string, string> metadata, string key)
    {
        string text = metadata.TryGetValue(key, out var value) ? value : "{}";
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }
}
