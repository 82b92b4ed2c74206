// Builds the train and val loaders of a run from its config and the model's data config (timm's create_loader).
using Ascan.Models;
using Ascan.Data;
using Ascan.Data.Augment;

namespace Ascan.Training.Train;

public static class TrainData
{
    /// <summary>The training transform: the model's normalisation at the run's image size, with the config's augmentations.</summary>
    public static TransformConfig TrainTransform(TrainConfig c, DataConfig model) => FromModel(model, c.ImageSize) with
    {
        ScaleMin = c.ScaleMin,
        HFlip = c.Hflip,
        ColorJitter = c.ColorJitter,
        AutoAugment = string.IsNullOrEmpty(c.AutoAugment) ? null : c.AutoAugment,
        ReProb = c.ReProb,
    };

    /// <summary>The evaluation transform: resize to size / crop fraction, centre crop, normalise.</summary>
    public static TransformConfig EvalTransform(DataConfig model, int? imageSize) => FromModel(model, imageSize);

    /// <summary>What a run trains on, as checkpoints store it: the model's data config at the run's image size, with the data's class count.</summary>
    public static DataConfig DataConfigOf(TrainConfig c, DataConfig model, int numClasses) => model with
    {
        InputSize = TrainTransform(c, model).Size,
        NumClasses = numClasses,
    };

    /// <summary>Size, mean/std, crop fraction and interpolation from a model's data config.</summary>
    public static TransformConfig FromModel(DataConfig c, int? size = null) => new()
    {
        Size = size ?? c.InputSize,
        Mean = (double[])c.Mean.Clone(),
        Std = (double[])c.Std.Clone(),
        CropFraction = c.CropFraction,
        Interpolation = c.Interpolation,
    };

    /// <summary>
    /// Loaders over DIR/train and DIR/val (ImageFolders; val is null when DIR has no val/). The val split must have
    /// the train split's class folders. Mixup/CutMix, when on, smooth their soft targets with the run's smoothing.
    /// </summary>
    public static (DataLoader Train, DataLoader? Val) FromFolder(TrainConfig c, DataConfig model, TextWriter? log = null)
    {
        if (string.IsNullOrEmpty(c.Data)) throw new ArgumentException("No dataset given: pass --data DIR (an ImageFolder root with train/ and val/).");
        if (!Directory.Exists(c.Data)) throw new DirectoryNotFoundException($"Dataset folder '{c.Data}' does not exist.");
        string trainDir = ImageFolderDataset.ResolveSplit(c.Data, "train");
        string valDir = ImageFolderDataset.ResolveSplit(c.Data, "val");
        var trainSet = new ImageFolderDataset(trainDir);
        var valSet = valDir != trainDir && Directory.Exists(valDir) ? new ImageFolderDataset(valDir, trainSet.ClassNames) : null;
        return (Loader(c, model, trainSet, training: true, log), valSet == null ? null : Loader(c, model, valSet, training: false, log));
    }

    /// <summary>A loader over any image dataset (the demo feeds generated shapes through the same path).</summary>
    public static DataLoader Loader(TrainConfig c, DataConfig model, IImageDataset set, bool training, TextWriter? log = null)
    {
        var options = new LoaderOptions
        {
            BatchSize = c.BatchSize,
            Shuffle = training,
            // timm drops the last incomplete training batch (a batch of one would break BatchNorm statistics).
            DropLast = training && set.Count >= c.BatchSize,
            Seed = c.Seed,
            Workers = c.Workers,
            Log = log,
            Mixup = training && (c.Mixup > 0 || c.Cutmix > 0)
                ? new MixupConfig { MixupAlpha = c.Mixup, CutmixAlpha = c.Cutmix, LabelSmoothing = c.Smoothing, NumClasses = set.ClassNames.Count }
                : null,
        };
        return training
            ? DataLoader.ForTraining(set, TrainTransform(c, model), options)
            : DataLoader.ForEvaluation(set, EvalTransform(model, c.ImageSize), options);
    }
}
