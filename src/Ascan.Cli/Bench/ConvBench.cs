// `ascan bench conv`: every convolution of an AsCAN preset's training step — forward, data gradient, weight
// gradient — timed alone at the step's shapes, so the conv rows of `bench --profile` can be taken apart per shape.
using System.Globalization;
using Ascan.Training;
using Ascan.Cli.Flags;
using Ascan.Kernels;
using Ascan.Models.AsCAN;

namespace Ascan.Cli;

internal static class ConvBench
{
    /// <summary>One distinct conv shape of the network and how many times a forward runs it.</summary>
    private sealed record Layer(string Name, Conv2dGeometry G, int Count)
    {
        public double Flops => 2.0 * G.B * G.OutH * G.OutW * G.O * G.KH * G.KW * G.Cg;
    }

    /// <summary>The convs of <paramref name="config"/> at batch <paramref name="batch"/> and image <paramref name="size"/>, in network order.</summary>
    private static List<Layer> Layers(AscanConfig config, int batch, int size)
    {
        static int Half(int s) => (s + 1) / 2;
        var list = new List<Layer>();
        int w0 = config.Widths[0], s = size;
        list.Add(new("stem.conv1", new(batch, s, s, 3, w0 / 2, 3, 3, 2, 2, 1, 1), 1));
        s = Half(s);
        list.Add(new("stem.conv2", new(batch, s, s, w0 / 2, w0, 3, 3, 2, 2, 1, 1), 1));
        s = Half(s);
        int cin = w0;
        for (int i = 0; i < config.NumStages; i++)
        {
            int w = config.Widths[i];
            if (i > 0)
            {
                list.Add(new($"stages.{i}.downsample", new(batch, s, s, cin, w, 3, 3, 2, 2, 1, 1), 1));
                s = Half(s);
            }
            int c = config.Stages[i].Count(k => k == 'C');
            if (c > 0)
            {
                int hidden = w * config.ExpansionRatio;
                list.Add(new($"stages.{i} conv_exp", new(batch, s, s, w, hidden, 3, 3, 1, 1, 1, 1), c));
                list.Add(new($"stages.{i} conv_proj", new(batch, s, s, hidden, w, 1, 1), c));
            }
            cin = w;
        }
        return list;
    }

    public static int Run(string model, int batch, int? imageSize, int? threads, TextWriter output)
    {
        var presets = Ascan.Models.AscanZoo.Entries.Select(e => e.Name).ToList();
        if (!presets.Contains(model))
            throw new ArgumentException($"--model {model}: bench conv times the convolutions of an AsCAN preset ({string.Join(", ", presets)}); use bench --model {model} for the whole model.");
        var config = AscanConfig.Preset(model);
        int size = ImageSize.Resolve(imageSize, stored: null, config.ImageSize);
        int old = KernelPool.Threads;
        try
        {
            int t = threads ?? Environment.ProcessorCount;
            double peak = KernelBench.MeasurePeak(t);
            KernelPool.Threads = t;
            var inv = CultureInfo.InvariantCulture;
            output.WriteLine(string.Create(inv, $"{model} convs · batch {batch} · {size}×{size} · {t} thread(s) · FMA peak {peak:F1} GFLOP/s"));
            output.WriteLine($"{"conv",-22} {"shape (B,H,W,C->O,k,s)",-26} {"n",2} {"fwd ms",8} {"%pk",5} {"dx ms",8} {"%pk",5} {"dw ms",8} {"%pk",5} {"step ms",8}");
            double total = 0;
            foreach (var l in Layers(config, batch, size))
            {
                var g = l.G;
                var x = KernelBench.Random(g.InputLength, 1);
                var w = KernelBench.Random(g.WeightLength, 2);
                var y = KernelBench.Random(g.OutputLength, 3);
                var dx = new float[g.InputLength];
                var dw = new float[g.WeightLength];
                double f = KernelBench.TimeMedian(() => Conv2dKernels.Forward<float>(y, x, w, default, g));
                double d = KernelBench.TimeMedian(() => Conv2dKernels.BackwardData<float>(dx, y, w, g));
                double wg = KernelBench.TimeMedian(() => Conv2dKernels.BackwardWeight<float>(dw, x, y, g));
                double Pct(double sec) => 100 * l.Flops / sec / 1e9 / peak;
                double step = (f + d + wg) * l.Count * 1e3;
                total += step;
                string shape = $"{g.B},{g.H},{g.W},{g.C}->{g.O},{g.KH},{g.StrideH}";
                output.WriteLine(string.Create(inv,
                    $"{l.Name,-22} {shape,-26} {l.Count,2} {f * 1e3,8:F2} {Pct(f),5:F0} {d * 1e3,8:F2} {Pct(d),5:F0} {wg * 1e3,8:F2} {Pct(wg),5:F0} {step,8:F1}"));
            }
            output.WriteLine(string.Create(inv, $"total (forward + both gradients, every conv of one step): {total:F1} ms"));
            return 0;
        }
        finally
        {
            KernelPool.Threads = old;
        }
    }
}
