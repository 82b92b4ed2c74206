// Augmentations: RandAugment grammar and ops, PIL-semantics checks, transform output shapes, erasing, mixup/cutmix targets.
using Ascan.Core;
using Ascan.Data;
using Ascan.Data.Augment;
using Ascan.Data.Imaging;

namespace Ascan.Data.Tests;

public class AugmentTests
{
    [Fact]
    public void RandAugment_Parse_TimmGrammar()
    {
        var ra = RandAugment.Parse("rand-m9-mstd0.5");
        Assert.Equal((9.0, 2, 0.5, 0.5, 10.0), (ra.Magnitude, ra.NumLayers, ra.MagnitudeStd, ra.Probability, ra.MagnitudeMax));
        Assert.Equal(RandAugment.DefaultOps, ra.Ops);
        Assert.Null(ra.Weights);

        var inc = RandAugment.Parse("rand-m7-n3-mstd101-inc1-mmax8-p0.7");
        Assert.Equal((7.0, 3, 8.0, 0.7), (inc.Magnitude, inc.NumLayers, inc.MagnitudeMax, inc.Probability));
        Assert.True(double.IsPositiveInfinity(inc.MagnitudeStd));
        Assert.Equal(RandAugment.IncreasingOps, inc.Ops);

        Assert.Equal(RandAugment.DefaultOps, RandAugment.Parse("rand-m9-mstd0.5-inc0").Ops);
        var w = RandAugment.Parse("rand-m9-w0");
        Assert.NotNull(w.Weights);
        Assert.Equal(1.0, w.Weights!.Sum(), 12);
        Assert.Equal(0.0, w.Weights[w.Ops.ToList().IndexOf("Invert")]);

        Assert.Throws<ArgumentException>(() => RandAugment.Parse("augmix-m5"));
        Assert.Contains("x5", Assert.Throws<ArgumentException>(() => RandAugment.Parse("rand-m9-x5")).Message);
        Assert.Throws<ArgumentException>(() => RandAugment.Parse("rand-m9-w1"));
        Assert.Throws<ArgumentException>(() => RandAugment.Parse("rand-m9-n14-w0"));
    }

    [Fact]
    public void RandAugment_EveryOp_KeepsShape_AndIsDeterministic()
    {
        var img = DataTestFiles.RandomImage(20, 17, 3, 4, smooth: true);
        var hp = new AugmentHParams { FillColor = [124, 116, 104] };
        foreach (var op in RandAugment.DefaultOps.Concat(RandAugment.IncreasingOps).Append("PosterizeOriginal").Distinct())
        {
            var a = RandAugment.Run(op, img, 0.9, new Rng(3), hp);
            var b = RandAugment.Run(op, img, 0.9, new Rng(3), hp);
            Assert.Equal((20, 17, 3), (a.Width, a.Height, a.Channels));
            Assert.Equal(a.Data, b.Data);
        }
        var ra = RandAugment.Parse("rand-m9-mstd0.5-inc1", hp);
        for (int seed = 0; seed < 20; seed++)
        {
            var o = ra.Apply(img, new Rng((ulong)seed));
            Assert.Equal((20, 17, 3), (o.Width, o.Height, o.Channels));
        }
    }

    [Fact]
    public void ImageOps_FollowPilSemantics()
    {
        var img = DataTestFiles.RandomImage(16, 12, 3, 11, smooth: true);
        Assert.Equal(img.Data, ImageOps.Invert(ImageOps.Invert(img)).Data);
        Assert.Equal(img.Data, ImageOps.Solarize(img, 256).Data);
        Assert.Equal(img.Data, ImageOps.Posterize(img, 8).Data);
        Assert.All(ImageOps.Posterize(img, 2).Data, v => Assert.Equal(0, v & 0x3F));
        Assert.Equal(img.Data, ImageOps.Brightness(img, 1.0).Data);
        Assert.Equal(img.Data, ImageOps.Color(img, 1.0).Data);
        Assert.All(ImageOps.Brightness(img, 0.0).Data, v => Assert.Equal(0, v));

        // Contrast 0 = a solid image of the rounded mean luma.
        var flat = ImageOps.Contrast(img, 0.0).Data;
        Assert.All(flat, v => Assert.Equal(flat[0], v));

        // Autocontrast stretches each channel to the full range.
        var ac = ImageOps.AutoContrast(img);
        for (int c = 0; c < 3; c++)
        {
            var ch = Enumerable.Range(0, 16 * 12).Select(i => ac.Data[3 * i + c]).ToArray();
            Assert.Equal(0, ch.Min());
            Assert.InRange((int)ch.Max(), 254, 255);     // PIL truncates hi·scale + offset, which can land on 254.999…
        }
        // Equalize leaves a one-value image alone.
        var solid = Image.Solid(5, 5, [40, 90, 200]);
        Assert.Equal(solid.Data, ImageOps.Equalize(solid).Data);

        // Identity warps are exact, 90° rotation of a square image is a transpose + flip.
        foreach (var interp in new[] { Interpolation.Nearest, Interpolation.Bilinear, Interpolation.Bicubic })
            Assert.Equal(img.Data, ImageOps.Affine(img, [1, 0, 0, 0, 1, 0], interp, [0, 0, 0]).Data);
        var sq = DataTestFiles.RandomImage(9, 9, 3, 12);
        var rot = ImageOps.Rotate(sq, 90, Interpolation.Nearest, [0, 0, 0]);
        for (int y = 0; y < 9; y++) for (int x = 0; x < 9; x++) for (int c = 0; c < 3; c++)
            Assert.Equal(sq[8 - y, x, c], rot[x, y, c]);     // counter-clockwise: out(x, y) = in(W−1−y, x)
        // A translation by the full width leaves only the fill colour.
        var gone = ImageOps.Affine(img, [1, 0, 16, 0, 1, 0], Interpolation.Bilinear, [1, 2, 3]);
        for (int i = 0; i < gone.Data.Length; i += 3) Assert.Equal(new byte[] { 1, 2, 3 }, gone.Data[i..(i + 3)]);

        // Hue shift of 0 keeps gray pixels exactly, and HSV round trips stay within a step.
        var h0 = ImageOps.AdjustHue(Image.Solid(3, 3, [77, 77, 77]), 0.3);
        Assert.All(h0.Data, v => Assert.Equal(77, v));
    }

    public static IEnumerable<object[]> OpCases() => DataTestFiles.Cases("op-");

    [Theory]
    [MemberData(nameof(OpCases))]
    public void ImageOps_MatchTorchvisionUint8Ops(ImageCase c)
    {
        var src = new Image(c.Width, c.Height, 3, File.ReadAllBytes(DataTestFiles.ImagePath(c.File)));
        var got = c.Kind["op-".Length..] switch
        {
            "Equalize" => ImageOps.Equalize(src),
            "Posterize" => ImageOps.Posterize(src, (int)c.Arg),
            "Solarize" => ImageOps.Solarize(src, (int)c.Arg),
            "Invert" => ImageOps.Invert(src),
            "AutoContrast" => ImageOps.AutoContrast(src),
            "Contrast" => ImageOps.Contrast(src, c.Arg),
            "Color" => ImageOps.Color(src, c.Arg),
            "Brightness" => ImageOps.Brightness(src, c.Arg),
            "Sharpness" => ImageOps.Sharpness(src, c.Arg),
            var k => throw new InvalidOperationException($"no op for {k}"),
        };
        DataTestFiles.AssertPixelsClose(File.ReadAllBytes(DataTestFiles.ImagePath(c.Expected)), got.Data, c.Tolerance, c.MeanTolerance, c.ToString());
    }

    private static TransformConfig Config(int size, string? aa = null, double re = 0) => new()
    {
        Size = size, AutoAugment = aa, ReProb = re, Mean = [0.5, 0.5, 0.5], Std = [0.25, 0.25, 0.25], CropFraction = 0.875,
    };

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    [InlineData(64, 64)]
    [InlineData(100, 37)]
    public void Transforms_KeepOutputShape_AndFinite(int w, int h)
    {
        var img = DataTestFiles.RandomImage(w, h, 3, w + h, smooth: true);
        var transforms = new ImageTransform[]
        {
            new TrainTransform(Config(24)),
            new TrainTransform(Config(24, "rand-m9-mstd0.5-inc1", re: 1.0)),
            new EvalTransform(Config(24)),
        };
        foreach (var t in transforms)
        {
            var dst = new float[3 * 24 * 24];
            t.Apply(img, new Rng(1), dst);
            Assert.All(dst, v => Assert.True(float.IsFinite(v)));
            var aug = t.Augment(img, new Rng(1));
            Assert.Equal((24, 24, 3), (aug.Width, aug.Height, aug.Channels));
        }
        // Gray and RGBA inputs are converted to RGB first.
        var gray = DataTestFiles.RandomImage(w, h, 1, 3);
        new EvalTransform(Config(8)).Apply(gray, new Rng(0), new float[3 * 64]);
        new TrainTransform(Config(8)).Apply(DataTestFiles.RandomImage(w, h, 4, 3), new Rng(0), new float[3 * 64]);
    }

    [Fact]
    public void TrainTransform_WithoutRandomness_IsPlainNormalisation()
    {
        // Full-image crop at ratio 1, no flip, no jitter, same size: the output is the normalised input.
        var img = DataTestFiles.RandomImage(20, 20, 3, 6);
        var cfg = Config(20) with { ScaleMin = 1, ScaleMax = 1, RatioMin = 1, RatioMax = 1, HFlip = 0, ColorJitter = 0 };
        var got = new float[3 * 400];
        new TrainTransform(cfg).Apply(img, new Rng(2), got);
        var want = new float[3 * 400];
        img.ToNormalizedChw(want, cfg.Mean, cfg.Std);
        Assert.Equal(want, got);
        Assert.Equal((img[3, 5, 1] / 255f - 0.5f) / 0.25f, got[400 + 5 * 20 + 3], 5);
    }

    [Fact]
    public void EvalTransform_ResizesShorterSideThenCentreCrops()
    {
        var t = new EvalTransform(Config(64));
        Assert.Equal(73, t.ScaleSize);                       // floor(64 / 0.875)
        // A solid image with a centred square: the crop keeps it centred.
        var img = Image.Solid(146, 100, [0, 0, 0]);
        for (int y = 40; y < 60; y++) for (int x = 63; x < 83; x++) for (int c = 0; c < 3; c++) img[x, y, c] = 255;
        var o = t.Augment(img, new Rng(0));
        Assert.Equal((64, 64), (o.Width, o.Height));
        Assert.Equal(255, o[32, 32, 0]);
        Assert.Equal(0, o[2, 2, 0]);
        Assert.Equal(o[25, 32, 0], o[38, 32, 0]);           // symmetric about the centre
    }

    [Fact]
    public void RandomResizedCrop_ParamsInsideImage_AndWithinRatio()
    {
        var t = new TrainTransform(Config(32));
        var rng = new Rng(9);
        for (int i = 0; i < 500; i++)
        {
            int w = 10 + rng.NextInt(300), h = 10 + rng.NextInt(300);
            var (top, left, ch, cw) = t.RandomResizedCropParams(w, h, rng);
            Assert.InRange(top, 0, h - ch);
            Assert.InRange(left, 0, w - cw);
            Assert.True(cw >= 1 && ch >= 1 && cw <= w && ch <= h);
        }
    }

    [Fact]
    public void RandomErasing_PixelMode_ErasesARectangleWithNoise()
    {
        var img = new float[3 * 32 * 32];
        var re = new RandomErasing(1.0, "pixel");
        re.Apply(img, 3, 32, 32, new Rng(4));
        int changed = img.Count(v => v != 0);
        Assert.InRange(changed, 3 * (int)(0.02 * 1024 * 0.5), 3 * (int)(1024 / 3.0 * 1.2));
        var none = new float[3 * 32 * 32];
        new RandomErasing(0.0).Apply(none, 3, 32, 32, new Rng(4));
        Assert.All(none, v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(0.8, 0.0, 0.1)]
    [InlineData(0.0, 1.0, 0.1)]
    [InlineData(0.8, 1.0, 0.0)]
    public void Mixup_SoftTargets_SumToOne_AndMatchLambda(double mixup, double cutmix, double smoothing)
    {
        const int b = 6, k = 5, h = 8, w = 8, per = 3 * h * w;
        var m = new Mixup(new MixupConfig { MixupAlpha = mixup, CutmixAlpha = cutmix, LabelSmoothing = smoothing, NumClasses = k });
        int[] labels = [0, 1, 2, 3, 4, 0];
        for (int seed = 0; seed < 10; seed++)
        {
            // Image i is the constant i, so mixed pixels reveal λ.
            var x = new float[b * per];
            for (int i = 0; i < b; i++) Array.Fill(x, i, i * per, per);
            var (t, lam) = m.Apply(x, labels, 3, h, w, new Rng((ulong)seed));
            Assert.Equal(b * k, t.Length);
            for (int i = 0; i < b; i++)
            {
                Assert.Equal(1.0, t.Skip(i * k).Take(k).Sum(v => (double)v), 5);
                // The weight of the image's own class equals the share of its own pixels.
                int j = b - 1 - i;
                double own = x.Skip(i * per).Take(per).Average(v => Math.Abs(v - j) < 1e-4 ? 0.0 : Math.Abs(v - i) < 1e-4 ? 1.0 : (v - j) / (i - j));
                Assert.Equal(lam, own, 4);
            }
            Assert.InRange(lam, 0, 1);
        }
    }

    [Fact]
    public void Mixup_Targets_SmoothingValues()
    {
        var t = Mixup.Targets([2, 0], 4, 1.0, 0.1);
        Assert.Equal(new[] { 0.025f, 0.025f, 0.925f, 0.025f, 0.925f, 0.025f, 0.025f, 0.025f }, t);
    }

    [Fact]
    public void ColorJitter_KeepsShape_AndZeroIsIdentity()
    {
        var img = DataTestFiles.RandomImage(11, 7, 3, 2, smooth: true);
        Assert.Equal(img.Data, new ColorJitter(0, 0, 0).Apply(img, new Rng(1)).Data);
        var j = new ColorJitter(0.4, 0.4, 0.4, 0.1).Apply(img, new Rng(1));
        Assert.Equal((11, 7, 3), (j.Width, j.Height, j.Channels));
    }

    [Fact]
    public void RandomStreams_BetaAndPermutation_AreSane()
    {
        var rng = new Rng(1);
        double sum = 0;
        for (int i = 0; i < 4000; i++) sum += rng.Beta(0.8, 0.8);
        Assert.InRange(sum / 4000, 0.47, 0.53);
        var p = rng.Permutation(100);
        Assert.Equal(Enumerable.Range(0, 100), p.Order());
        Assert.NotEqual(RandomStreams.Derive(1, 2, 3), RandomStreams.Derive(1, 3, 2));
    }
}
