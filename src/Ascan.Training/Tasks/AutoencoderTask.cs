// Training a KL autoencoder as a task of the shared loop: LDM's L1 + β·KL on a posterior sample, and every epoch the
// val split's L1 and PSNR of the posterior mode's reconstruction, with a picture of them.
using System.Globalization;
using Ascan.Core;
using Ascan.Data;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Nn;
using Ascan.Training.Eval;
using Ascan.Training.Reporting;
using Ascan.Training.Train;

namespace Ascan.Training.Tasks;

/// <summary>
/// Trains an <see cref="AutoencoderKL"/> on image batches (normalised NCHW, [−1, 1] with the VAE's 0.5/0.5): loss =
/// mean |Decode(z) − x| + β · batch-mean KL(q(z | x) ‖ N(0, I)) with z sampled from the posterior by the task's own
/// generator (<see cref="Generators"/>, so resume is exact); equal to <see cref="AutoencoderKL.L1KlLoss"/>. Summary
/// columns: train_loss, train_l1, val_l1 and val_psnr (decoding the posterior mode on <paramref name="val"/>; PSNR on
/// images mapped back to [0, 1] with the data mean/std), ema_l1 (the EMA's val_l1, NaN without EMA). Checkpoints rank
/// by −ema_l1, else −val_l1, else −train_loss. Each epoch with a val split writes OUT/recon/epoch_NNN.png: up to
/// <see cref="ReconImages"/> val images on top, their reconstructions (the EMA's when there is one) below.
/// </summary>
/// <param name="data">The VAE's data config (normalisation); stored in checkpoints with the run's image size.</param>
/// <param name="klWeight">β, the KL weight (LDM's KL-f8 uses 1e-6).</param>
/// <param name="seed">Seeds the posterior-sampling generator.</param>
public sealed class AutoencoderTask(Func<AutoencoderKL> createModel, IBatchSource train, IBatchSource? val, DataConfig data,
    double klWeight = 1e-6, ulong seed = 0) : TrainTask
{
    public const string TrainLoss = "train_loss", TrainL1 = "train_l1", ValL1 = "val_l1", ValPsnr = "val_psnr", EmaL1 = "ema_l1";

    private const string L1Sum = "l1_sum", KlSum = "kl_sum";

    /// <summary>Salt of the posterior-sampling stream ("VA"), apart from the data loaders' streams.</summary>
    private const long PosteriorStream = 0x5641;

    private readonly Rng _rng = RandomStreams.Create(seed, PosteriorStream);
    private string? _output;

    /// <summary>Validation images drawn in each epoch's reconstruction picture.</summary>
    public int ReconImages { get; init; } = 8;

    /// <summary>β, the weight of the KL term.</summary>
    public double KlWeight { get; } = klWeight >= 0 ? klWeight : throw new ArgumentOutOfRangeException(nameof(klWeight), klWeight, "The KL weight must be ≥ 0.");

    /// <summary>The last evaluation (of the EMA when there is one), null before the first.</summary>
    public VaeEvalResult? LastEval { get; private set; }

    public static IReadOnlyList<CurvePanel> CurvePanels { get; } =
    [
        new("Loss (L1 + β·KL)", [new("train", "#1f77b4", TrainLoss)]),
        new("L1", [new("train", "#1f77b4", TrainL1), new("val", "#d62728", ValL1), new("EMA", "#2ca02c", EmaL1)]),
        new("val PSNR (dB)", [new("val", "#d62728", ValPsnr)]),
    ];

    public override IReadOnlyList<CurvePanel> Curves => CurvePanels;
    public override IEnumerable<(string Name, Rng Rng)> Generators => [("posterior", _rng)];
    public override Module CreateModel() => createModel();

    /// <summary>What generation and encoding read back: the normalisation, the training size as the size.</summary>
    public override DataConfig? Data(TrainConfig c) => data with { InputSize = c.ImageSize ?? data.InputSize };

    public override string Prepare(Module model)
    {
        var vae = Vae(model);
        if (data.Mean.Length != vae.Config.InChannels || data.Std.Length != vae.Config.InChannels)
            throw new ArgumentException($"The VAE takes {vae.Config.InChannels} channels but the data config has {data.Mean.Length} means and {data.Std.Length} stds.");
        return FormattableString.Invariant($"{train.SampleCount} train images, ")
            + (val != null ? FormattableString.Invariant($"{val.SampleCount} val images") : "no val split")
            + FormattableString.Invariant($"; KL weight {KlWeight:G3}, latents {vae.Config.LatentChannels} channels at 1/{vae.Config.DownsampleFactor}");
    }

    /// <summary>Shapes: batch images (B, C, H, W) → z (B, L, H/f, W/f) → recon (B, C, H, W); loss scalar.</summary>
    public override TaskStep Step(Module model, Batch batch)
    {
        var vae = Vae(model);
        var x = batch.Images;
        int f = vae.Config.DownsampleFactor, n = batch.Count;
        if (x.Rank != 4 || x.Dim(2) % f != 0 || x.Dim(3) % f != 0)
            throw new ArgumentException($"AutoencoderTask: images {ShapeUtil.Format(x.Shape)} must be (B, C, H, W) with H and W multiples of the VAE's downsample factor {f} (--image-size).");
        var posterior = vae.Encode(x);
        var recon = vae.Decode(posterior.Sample(_rng));
        var l1 = Ops.L1Loss(recon, x);
        var kl = Ops.Mean(posterior.Kl());
        var loss = l1 + kl * KlWeight;
        return new TaskStep(loss, Metrics.Of((L1Sum, l1.Item() * n), (KlSum, kl.Item() * n)));
    }

    public override Metrics Running(EpochMeters meters) => Metrics.Of(("l1", meters.PerSample(L1Sum)));

    public override Metrics EndEpoch(EpochMeters trainMeters, Module model, Module? ema)
    {
        VaeEvalResult? evalModel = null, evalEma = null;
        if (val != null)
        {
            evalModel = VaeEvaluator.Evaluate(Vae(model), val, data.Mean, data.Std, ReconImages);
            if (ema != null) evalEma = VaeEvaluator.Evaluate(Vae(ema), val, data.Mean, data.Std, ReconImages);
            LastEval = evalEma ?? evalModel;
            if (_output != null && LastEval.Originals.Count > 0)
                ReconPictures.Save(Path.Combine(_output, "recon", $"epoch_{Epoch:000}.png"), LastEval.Originals, LastEval.Reconstructions);
        }
        return Metrics.Of((TrainLoss, trainMeters.Loss), (TrainL1, trainMeters.PerSample(L1Sum)),
            (ValL1, evalModel?.L1 ?? double.NaN), (ValPsnr, evalModel?.Psnr ?? double.NaN), (EmaL1, evalEma?.L1 ?? double.NaN));
    }

    public override double Score(Metrics epoch) =>
        !double.IsNaN(epoch[EmaL1]) ? -epoch[EmaL1] : !double.IsNaN(epoch[ValL1]) ? -epoch[ValL1] : -epoch[TrainLoss];

    public override void WriteRunFiles(string output) => _output = output;

    public override string FormatEpoch(Metrics m)
    {
        var inv = CultureInfo.InvariantCulture;
        string s = string.Create(inv, $"train loss {m[TrainLoss]:F4} l1 {m[TrainL1]:F4}");
        if (!double.IsNaN(m[ValL1])) s += string.Create(inv, $" | val l1 {m[ValL1]:F4} psnr {m[ValPsnr]:F2} dB");
        if (!double.IsNaN(m[EmaL1])) s += string.Create(inv, $" | ema l1 {m[EmaL1]:F4}");
        return s;
    }

    private static AutoencoderKL Vae(Module model) =>
        model as AutoencoderKL ?? throw new ArgumentException($"The autoencoder task trains an AutoencoderKL (vae_*); got a {model.GetType().Name}.");
}
