// Tests of the per-op profiler: self vs inclusive time under nesting, recursion, op and backward names, off = nothing.
using System.Diagnostics;
using Ascan.Core;

namespace Ascan.Core.Tests;

/// <summary>
/// The profiler is process-wide; only this class turns it on in this assembly (xunit runs a class's tests one at
/// a time), and the assertions read the calling thread's table so ops of tests running in parallel cannot leak in.
/// No assertion depends on how long anything takes, only on how times relate.
/// </summary>
public class ProfilerTests
{
    private const double Tol = 1e-9; // seconds; the tables hold whole ticks, so the relations hold to rounding

    private static ProfileEntry Entry(IReadOnlyList<ProfileEntry> entries, string name) =>
        entries.SingleOrDefault(e => e.Name == name) ?? throw new Xunit.Sdk.XunitException(
            $"no profile entry '{name}'; found: {string.Join(", ", entries.Select(e => e.Name))}");

    private static void Spin(double microseconds)
    {
        long end = Stopwatch.GetTimestamp() + (long)(microseconds * 1e-6 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < end) { }
    }

    private static IReadOnlyList<ProfileEntry> Record(Action body)
    {
        Profiler.Start();
        try { body(); }
        finally { Profiler.Stop(); }
        return Profiler.Snapshot(currentThreadOnly: true);
    }

    [Fact]
    public void Profiler_SelfTime_ExcludesNestedScopes()
    {
        var entries = Record(() =>
        {
            using var outer = Profiler.Scope("test.outer");
            Spin(200);
            using (Profiler.Scope("test.inner")) Spin(200);
            using (Profiler.Scope("test.inner")) Spin(200);
        });
        var outer = Entry(entries, "test.outer");
        var inner = Entry(entries, "test.inner");
        Assert.Equal(1, outer.Count);
        Assert.Equal(2, inner.Count);
        Assert.True(inner.TotalSeconds > 0 && outer.TotalSeconds >= inner.TotalSeconds);
        Assert.Equal(inner.TotalSeconds, inner.SelfSeconds, Tol);
        Assert.Equal(outer.TotalSeconds - inner.TotalSeconds, outer.SelfSeconds, Tol);
        // Self times add up to the outermost scope's time: every moment is counted once.
        Assert.Equal(outer.TotalSeconds, entries.Sum(e => e.SelfSeconds), Tol);
    }

    [Fact]
    public void Profiler_Recursion_CountsInclusiveTimeOnce()
    {
        var entries = Record(() =>
        {
            using var a = Profiler.Scope("test.recursive");
            Spin(100);
            using var b = Profiler.Scope("test.recursive");
            Spin(100);
        });
        var e = Entry(entries, "test.recursive");
        Assert.Equal(2, e.Count);
        Assert.Equal(e.TotalSeconds, e.SelfSeconds, Tol);
    }

    [Fact]
    public void Profiler_Disabled_RecordsNothing()
    {
        Profiler.Start();
        Profiler.Stop();
        Assert.False(Profiler.IsEnabled);
        var x = Tensor.Randn(new Rng(1), DType.F32, 3, 4);
        x.RequiresGrad = true;
        using (Profiler.Scope("test.disabled")) Ops.Sum(Ops.Gelu(x)).Backward();
        Assert.Empty(Profiler.Snapshot(currentThreadOnly: true));
    }

    [Fact]
    public void Profiler_Ops_ForwardAndBackwardNames()
    {
        var rng = new Rng(2);
        var x = Tensor.Randn(rng, DType.F32, 4, 6);
        var w = Tensor.Randn(rng, DType.F32, 5, 6);
        var b = Tensor.Randn(rng, DType.F32, 5);
        w.RequiresGrad = true; b.RequiresGrad = true;
        var entries = Record(() =>
        {
            using var step = Profiler.Scope("test.step");
            var loss = Ops.Sum(Ops.Gelu(Ops.Linear(x, w, b)));
            loss.Backward();
        });
        foreach (var name in new[] { "Linear", "Gelu", "Sum", "Linear.backward", "Gelu.backward", "Sum.backward" })
            Assert.Equal(1, Entry(entries, name).Count);
        // Sum's backward adds into the gradient with AddInPlace: charged to the backward pass, not to a forward op.
        Assert.True(Entry(entries, "AddInPlace" + Profiler.InsideBackwardSuffix).Count >= 1);
        var stepEntry = Entry(entries, "test.step");
        Assert.Equal(stepEntry.TotalSeconds, entries.Sum(e => e.SelfSeconds), Tol);
    }

    [Fact]
    public void Profiler_OpInsideOp_ChargedToItself()
    {
        // Matmul with a vector reshapes it (Reshape nested in Matmul); Dropout multiplies by its mask (Mul nested).
        var rng = new Rng(3);
        var a = Tensor.Randn(rng, DType.F32, 3, 4);
        var v = Tensor.Randn(rng, DType.F32, 4);
        var entries = Record(() =>
        {
            Ops.Matmul(a, v);
            Ops.Dropout(a, 0.5, training: true, new Rng(4));
        });
        var matmul = Entry(entries, "Matmul");
        var reshape = Entry(entries, "Reshape");
        Assert.True(reshape.Count >= 2); // the vector in, the unit dim out
        Assert.True(matmul.TotalSeconds >= reshape.TotalSeconds);
        Assert.True(matmul.SelfSeconds <= matmul.TotalSeconds - reshape.TotalSeconds + Tol);
        Assert.Equal(1, Entry(entries, "Dropout").Count);
        Assert.Equal(1, Entry(entries, "Mul").Count);
    }

    [Fact]
    public void Profiler_Reset_ForgetsAndStopKeeps()
    {
        Profiler.Start();
        using (Profiler.Scope("test.before")) { }
        Profiler.Reset();
        using (Profiler.Scope("test.after")) { }
        Profiler.Stop();
        var entries = Profiler.Snapshot(currentThreadOnly: true);
        Assert.DoesNotContain(entries, e => e.Name == "test.before");
        Assert.Equal(1, Entry(entries, "test.after").Count);
        // A scope opened while recording closes cleanly after Stop, and one opened while off records nothing.
        Profiler.Start();
        var open = Profiler.Scope("test.open");
        Profiler.Stop();
        open.Dispose();
        using (Profiler.Scope("test.off")) { }
        entries = Profiler.Snapshot(currentThreadOnly: true);
        Assert.Equal(1, Entry(entries, "test.open").Count);
        Assert.DoesNotContain(entries, e => e.Name == "test.off");
    }
}
