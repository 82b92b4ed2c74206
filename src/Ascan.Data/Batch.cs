// The contract between data loading and training: batches of normalised NCHW images with labels.
using Ascan.Core;

namespace Ascan.Data;

/// <summary>
/// One batch, ready for the model. Images (B, 3, H, W) float32, normalised with the model's mean/std.
/// Labels are class indices; SoftTargets (B, classes), when mixup/cutmix ran, replace them for the loss.
/// </summary>
public sealed record Batch(Tensor Images, int[] Labels, Tensor? SoftTargets = null);

/// <summary>
/// A finite, ordered source of batches. Epoch(e) yields the same batches for the same (seed, e): shuffling and
/// augmentation draw from generators derived from both, so a resumed run sees exactly what an uninterrupted one did.
/// </summary>
public interface IBatchSource
{
    IReadOnlyList<string> ClassNames { get; }
    int SampleCount { get; }
    int BatchSize { get; }
    int BatchesPerEpoch { get; }

    /// <summary>Files skipped so far because they could not be read or decoded (reported in the summary).</summary>
    int SkippedFiles { get; }

    /// <summary>The batches of epoch <paramref name="epoch"/>, starting at batch <paramref name="startBatch"/> (for resume).</summary>
    IEnumerable<Batch> Epoch(int epoch, int startBatch = 0);
}
