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
    /// The splits of an ImageFolder root, checked before any work: DIR/train (or DIR itself when it has neither
    /// train/ nor val/) with at least two classes, and DIR/val (or validation/) when there is one, with the train
    /// split's classes. What is wrong is one <see cref="ArgumentException"/> naming --data and the folder.
    /// </summary>
    public static (ImageFolderDataset Train, ImageFolderDataset? Val) OpenFolder(string data, TextWriter? log = null)
    {
        if (string.IsNullOrEmpty(data)) throw new ArgumentException("No dataset given: pass --data DIR (an ImageFolder root with train/ and val/).");
        if (!Directory.Exists(data)) throw new DirectoryNotFoundException($"--data: dataset folder '{data}' does not exist.");
        string trainDir = ImageFolderDataset.ResolveSplit(data, "train");
        string valDir = ImageFolderDataset.ResolveSplit(data, "val");
        bool hasVal = valDir != data;
        if (trainDir == data && hasVal)
            throw new ArgumentException($"--data {data} has {Path.GetFileName(valDir)}/ but no train/ folder (expected DIR/train/<class>/… and DIR/val/<class>/…).");
        try
        {
            var trainSet = new ImageFolderDataset(trainDir);
            if (trainSet.ClassNames.Count < 2)
                throw new ArgumentException($"--data: '{trainDir}' has {trainSet.ClassNames.Count} class folder ({string.Join(", ", trainSet.ClassNames)}); a classifier needs at least 2.");
            if (!hasVal) log?.WriteLine($"train: no val/ split in {data}: no validation, checkpoints are ranked by training loss");
            return (trainSet, hasVal ? new ImageFolderDataset(valDir, trainSet.ClassNames) : null);
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException($"--data: {e.Message}", e);
        }
    }

    /// <summary>
    /// The training size the data suggests when the user set none: the median short side of up to
    /// <paramref name="samples"/> images spread over the set, rounded down to a multiple of 8, when that is smaller
    /// than the model's input size (64 px shapes train at 64, not 224); null when the model's size fits the data (or
    /// no image could be read).
    /// </summary>
    public static int? SizeFromData(IImageDataset set, int modelSize, int samples = 16)
    {
        var sides = new List<int>();
        for (int k = 0; k < Math.Min(samples, set.Count); k++)
        {
            try
            {
                var img = set.Load((int)((long)k * set.Count / Math.Min(samples, set.Count)));
                sides.Add(Math.Min(img.Width, img.Height));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or Ascan.Data.Imaging.ImageDecodeException) { } // reported when training reads it
        }
        if (sides.Count == 0) return null;
        sides.Sort();
        int side = Math.Max(32, sides[sides.Count / 2] / 8 * 8);
        return side < modelSize ? side : null;
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
