// The contract between data loading and training: batches of normalised NCHW images with whatever targets the task needs.
using Ascan.Core;

namespace Ascan.Data;

/// <summary>
/// One batch, ready for the model. Images (B, 3, H, W) float32, normalised with the model's mean/std. Every target
/// is optional, so one type serves every task: Labels are class indices (classification; empty when the task has
/// none); SoftTargets (B, classes), when mixup/cutmix ran, replace them for the loss; the init-only fields below
/// carry segmentation masks, the class ids of class-conditional generation and the token ids of text-to-image.
/// </summary>
public sealed record Batch(Tensor Images, int[] Labels, Tensor? SoftTargets = null)
{
    /// <summary>The mask value that marks pixels without a label (ADE20K's "other"; mmseg's ignore_index).</summary>
    public const int IgnoreIndex = 255;

    /// <summary>A batch of images alone (the other targets set with init, as the task needs).</summary>
    public Batch(Tensor images) : this(images, []) { }

    /// <summary>
    /// Per-pixel class indices (B, MaskHeight, MaskWidth) row-major; <see cref="IgnoreIndex"/> where unlabelled. Training
    /// masks are at the images' H and W; evaluation keeps them at the original size (mmseg scores there).
    /// </summary>
    public int[]? Masks { get; init; }

    private readonly int _maskHeight, _maskWidth;

    /// <summary>The masks' H: the images' H unless set (evaluation batches set the original size).</summary>
    public int MaskHeight { get => _maskHeight > 0 ? _maskHeight : Images.Dim(2); init => _maskHeight = value; }

    /// <summary>The masks' W: the images' W unless set.</summary>
    public int MaskWidth { get => _maskWidth > 0 ? _maskWidth : Images.Dim(3); init => _maskWidth = value; }

    /// <summary>One class id per image (B), the condition of class-conditional generation.</summary>
    public int[]? ClassIds { get; init; }

    /// <summary>Token ids (B, T) row-major, T = TokenIds.Length / B (padded to a common length).</summary>
    public int[]? TokenIds { get; init; }

    /// <summary>B, the number of images.</summary>
    public int Count => Images.Dim(0);
}

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
