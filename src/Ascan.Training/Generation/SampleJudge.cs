// Scores generated images with a classifier: class accuracy (the fraction it assigns to the requested class) and a
// Fréchet distance on its pooled features (FID-shapes: comparable between runs of one classifier, not with ImageNet FID).
using Ascan.Core;
using Ascan.Models;
using Ascan.Training.Eval;

namespace Ascan.Training.Generation;

/// <summary>Class accuracy of samples and the per-class hits.</summary>
public sealed record ClassAccuracy(double Accuracy, int[] Predictions, int[] Correct, int[] Total);

/// <summary>
/// A trained classifier used as the judge of generated images. Images come in [−1, 1] (N, 3, H, W); they are mapped to
/// [0, 1], normalised with the classifier's mean/std and resized bilinearly to its input size when they differ.
/// </summary>
public sealed class SampleJudge(ClassifierModel classifier, DataConfig data, int batchSize = 64)
{
    /// <summary>A classifier's weights (train's checkpoint or model.safetensors) as a judge at the size and normalisation it was trained with.</summary>
    public static SampleJudge Load(string path, TextWriter? warnings = null)
    {
        var j = ModelLoader.Load(path, new LoadOptions { Warnings = warnings });
        return new SampleJudge(j.Model, j.Data with { InputSize = j.ImageSize });
    }

    public ClassifierModel Classifier => classifier;
    public DataConfig Data => data;

    /// <summary>The fraction of <paramref name="images"/> the classifier assigns to <paramref name="classes"/>[i], with per-class counts.</summary>
    public ClassAccuracy Accuracy(Tensor images, int[] classes)
    {
        if (classes.Length != images.Dim(0)) throw new ArgumentException($"SampleJudge: {classes.Length} classes for {images.Dim(0)} images.");
        int k = classifier.NumClasses;
        var predictions = new int[classes.Length];
        var correct = new int[k];
        var total = new int[k];
        Run(images, (start, batch) =>
        {
            var logits = classifier.Forward(batch).ToArray<float>();
            for (int i = 0; i < batch.Dim(0); i++) predictions[start + i] = TopK.ArgMax(logits.AsSpan(i * k, k));
        });
        for (int i = 0; i < classes.Length; i++)
        {
            if (classes[i] < 0 || classes[i] >= k) throw new ArgumentException($"SampleJudge: class {classes[i]} but the classifier has {k} classes.");
            total[classes[i]]++;
            if (predictions[i] == classes[i]) correct[classes[i]]++;
        }
        return new ClassAccuracy((double)correct.Sum() / classes.Length, predictions, correct, total);
    }

    /// <summary>Pooled pre-logit features of the classifier, (N, NumFeatures).</summary>
    public float[,] Features(Tensor images)
    {
        int d = classifier.NumFeatures;
        var f = new float[images.Dim(0), d];
        Run(images, (start, batch) =>
        {
            var v = classifier.ForwardHead(classifier.ForwardFeatures(batch), preLogits: true).ToArray<float>();
            for (int i = 0; i < batch.Dim(0); i++)
                for (int j = 0; j < d; j++) f[start + i, j] = v[i * d + j];
        });
        return f;
    }

    /// <summary>FID-shapes: the Fréchet distance between <paramref name="reference"/> (statistics of real images' features) and the features of <paramref name="images"/>.</summary>
    public double FidTo(FidStatistics reference, Tensor images) =>
        Ascan.Training.Eval.Fid.FrechetDistance(reference, Ascan.Training.Eval.Fid.Statistics(Features(images)));

    /// <summary>Runs <paramref name="body"/>(first index, normalised batch) over the images in eval mode without gradients.</summary>
    private void Run(Tensor images, Action<int, Tensor> body)
    {
        if (images.Rank != 4 || images.Dim(1) != 3) throw new ArgumentException($"SampleJudge: expected images (N, 3, H, W), got {ShapeUtil.Format(images.Shape)}.");
        int n = images.Dim(0), h = images.Dim(2), w = images.Dim(3), per = 3 * h * w;
        var all = images.ToArray<float>();
        bool wasTraining = classifier.Training;
        classifier.Eval();
        try
        {
            for (int start = 0; start < n; start += batchSize)
            {
                int b = Math.Min(batchSize, n - start);
                using var scope = TensorScope.Begin();
                using var ng = Autograd.NoGrad();
                body(start, Normalise(all.AsSpan(start * per, b * per), b, h, w));
            }
        }
        finally { classifier.Train(wasTraining); }
    }

    private Tensor Normalise(ReadOnlySpan<float> chw, int b, int h, int w)
    {
        var x = new float[chw.Length];
        int hw = h * w;
        for (int i = 0; i < b; i++)
            for (int c = 0; c < 3; c++)
            {
                float scale = (float)(0.5 / data.Std[c]), shift = (float)((0.5 - data.Mean[c]) / data.Std[c]);
                for (int p = (i * 3 + c) * hw, e = p + hw; p < e; p++) x[p] = chw[p] * scale + shift;
            }
        var t = Tensor.FromArray(x, b, 3, h, w);
        int s = data.InputSize;
        if (h == s && w == s) return t;
        var nhwc = Ops.Upsample(t.Permute(0, 2, 3, 1).Contiguous(), (s, s), UpsampleMode.Bilinear, alignCorners: false);
        return nhwc.Permute(0, 3, 1, 2).Contiguous();
    }
}
