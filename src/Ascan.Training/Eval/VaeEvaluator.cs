// Evaluating an autoencoder over a split: decode the posterior mode, mean L1 in the normalised space and PSNR in [0, 1].
using Ascan.Core;
using Ascan.Data;
using Ascan.Data.Imaging;
using Ascan.Models.Generation;

namespace Ascan.Training.Eval;

/// <summary>
/// Mean L1 per element over the split (in the normalised space the loss uses), mean per-image PSNR in dB of the
/// reconstructions clamped to [0, 1] against the images mapped back to [0, 1], and the first images kept for pictures.
/// </summary>
public sealed record VaeEvalResult(double L1, double Psnr, int Images, IReadOnlyList<Image> Originals, IReadOnlyList<Image> Reconstructions);

public static class VaeEvaluator
{
    /// <summary>PSNR of a perfect reconstruction would be infinite; MSE is floored here (100 dB).</summary>
    private const double MinMse = 1e-10;

    /// <summary>
    /// Runs <paramref name="vae"/> in eval mode (restored afterwards), without gradients, over every batch of
    /// <paramref name="source"/>: recon = Decode(Encode(x).Mode()). <paramref name="mean"/>/<paramref name="std"/> are
    /// the data normalisation (one per channel); the first <paramref name="keepSamples"/> images and reconstructions
    /// are kept as RGB pictures. Shapes: batch images (B, C, H, W), C = mean.Length.
    /// </summary>
    public static VaeEvalResult Evaluate(AutoencoderKL vae, IBatchSource source, double[] mean, double[] std, int keepSamples = 0)
    {
        var originals = new List<Image>();
        var recons = new List<Image>();
        double l1Sum = 0, psnrSum = 0;
        int images = 0;
        bool wasTraining = vae.Training;
        vae.Eval();
        try
        {
            using var noGrad = Autograd.NoGrad();
            foreach (var batch in source.Epoch(0))
            {
                using var scope = TensorScope.Begin();
                var x = batch.Images;                                           // (B, C, H, W)
                int n = x.Dim(0), c = x.Dim(1), hw = x.Dim(2) * x.Dim(3);
                if (c != mean.Length || c != std.Length)
                    throw new ArgumentException($"VaeEvaluator: images have {c} channels but the data normalisation has {mean.Length} means and {std.Length} stds.");
                var recon = vae.Decode(vae.Encode(x).Mode());                   // (B, C, H, W)
                l1Sum += Ops.L1Loss(recon, x).Item() * n;
                var xs = x.ToArray<float>();
                var rs = recon.ToArray<float>();
                for (int b = 0; b < n; b++)
                {
                    double se = 0;
                    for (int ch = 0; ch < c; ch++)
                        for (int p = 0, o = (b * c + ch) * hw; p < hw; p++)
                        {
                            double target = xs[o + p] * std[ch] + mean[ch];
                            double got = Math.Clamp(rs[o + p] * std[ch] + mean[ch], 0, 1);
                            se += (got - target) * (got - target);
                        }
                    psnrSum += 10 * Math.Log10(1 / Math.Max(se / (c * hw), MinMse));
                }
                for (int b = 0; b < n && originals.Count < keepSamples && c == 3; b++)
                {
                    originals.Add(Image.FromTensor(x, b, mean, std));
                    recons.Add(Image.FromTensor(recon, b, mean, std));
                }
                images += n;
            }
        }
        finally
        {
            if (wasTraining) vae.Train();
        }
        return images == 0
            ? new VaeEvalResult(double.NaN, double.NaN, 0, [], [])
            : new VaeEvalResult(l1Sum / images, psnrSum / images, images, originals, recons);
    }
}
