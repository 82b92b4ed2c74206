// Named numbers in a fixed order: an epoch's summary columns, a task's running sums, a progress line's figures.
using System.Collections;
using System.Globalization;
using System.Text.Json;

namespace Ascan.Training.Reporting;

/// <summary>
/// An immutable, ordered list of (name, value). Looking up a name that is absent gives NaN (a metric the run did not
/// compute), as a missing column does in summary.csv. Equal when the names, their order and the values are equal,
/// NaN included (so a record holding it round-trips through a checkpoint and compares equal).
/// </summary>
public sealed class Metrics : IEquatable<Metrics>, IEnumerable<(string Name, double Value)>
{
    private readonly (string Name, double Value)[] _items;

    public static Metrics Empty { get; } = new([]);

    public Metrics(IEnumerable<(string Name, double Value)> items)
    {
        _items = items.ToArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in _items)
            if (!seen.Add(name)) throw new ArgumentException($"Metric '{name}' appears twice.", nameof(items));
    }

    public static Metrics Of(params (string Name, double Value)[] items) => new(items);

    public int Count => _items.Length;
    public IEnumerable<string> Names => _items.Select(i => i.Name);

    /// <summary>The value of <paramref name="name"/>, or NaN when absent.</summary>
    public double this[string name] => TryGet(name, out double v) ? v : double.NaN;

    public bool TryGet(string name, out double value)
    {
        foreach (var (n, v) in _items)
            if (n == name) { value = v; return true; }
        value = double.NaN;
        return false;
    }

    /// <summary>A copy with <paramref name="name"/> set: replaced in place when present, appended when not.</summary>
    public Metrics With(string name, double value)
    {
        int i = Array.FindIndex(_items, x => x.Name == name);
        if (i < 0) return new(_items.Append((name, value)));
        var copy = ((string, double)[])_items.Clone();
        copy[i] = (name, value);
        return new(copy);
    }

    /// <summary>Element-wise sum by name (names only in <paramref name="other"/> are appended): running sums over steps.</summary>
    public Metrics Add(Metrics other)
    {
        var sum = this;
        foreach (var (n, v) in other) sum = sum.With(n, (sum.TryGet(n, out double a) ? a : 0) + v);
        return sum;
    }

    public bool Equals(Metrics? other) =>
        other is not null && _items.Length == other._items.Length &&
        _items.Zip(other._items).All(p => p.First.Name == p.Second.Name && p.First.Value.Equals(p.Second.Value));

    public override bool Equals(object? obj) => Equals(obj as Metrics);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var (n, v) in _items) { h.Add(n); h.Add(v); }
        return h.ToHashCode();
    }

    public override string ToString() =>
        string.Join(", ", _items.Select(i => string.Create(CultureInfo.InvariantCulture, $"{i.Name}={i.Value:G6}")));

    public IEnumerator<(string Name, double Value)> GetEnumerator() => ((IEnumerable<(string, double)>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Writes a number, or its name ("NaN", "Infinity", "-Infinity") as System.Text.Json's named literals do.</summary>
    internal static void WriteNumber(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteString(name, v.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Reads a number written by <see cref="WriteNumber"/> (or by System.Text.Json with named literals allowed).</summary>
    internal static double ReadNumber(ref Utf8JsonReader r) => r.TokenType switch
    {
        JsonTokenType.Number => r.GetDouble(),
        JsonTokenType.String => double.Parse(r.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => throw new JsonException($"Expected a number, got {r.TokenType}."),
    };

    /// <summary>
    /// Reads a flat JSON object of numbers: the names in <paramref name="known"/> go to their slot (by index), every
    /// other name into the returned metrics, in file order.
    /// </summary>
    internal static Metrics ReadFlat(ref Utf8JsonReader r, string[] known, double[] slots)
    {
        if (r.TokenType != JsonTokenType.StartObject) throw new JsonException($"Expected an object, got {r.TokenType}.");
        var rest = new List<(string, double)>();
        while (r.Read() && r.TokenType != JsonTokenType.EndObject)
        {
            string name = r.GetString()!;
            r.Read();
            double v = ReadNumber(ref r);
            int k = Array.IndexOf(known, name);
            if (k >= 0) slots[k] = v; else rest.Add((name, v));
        }
        return new Metrics(rest);
    }
}
