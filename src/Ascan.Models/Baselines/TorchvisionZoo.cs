// Registry entries of the torchvision baselines: resnet50, convnext_tiny, vit_b_16 with the data configs of torchvision's weights.
using Ascan.Models.Baselines;

namespace Ascan.Models;

/// <summary>
/// The torchvision baselines. Parameter counts are torchvision's (weights meta "num_params"). Data configs follow
/// the transforms of torchvision 0.14's IMAGENET1K_V1 weights (ImageClassification: resize the short side to
/// resize_size, centre-crop crop_size, bilinear, ImageNet mean/std), written as timm's crop fraction
/// crop_size / resize_size:
///   resnet50       V1 resize 256 → crop 224 (0.875). torchvision's DEFAULT is V2 (resize 232, 224/232 = 0.9655);
///                  use that fraction with V2 weights.
///   convnext_tiny  V1 resize 236 → crop 224 (224/236 = 0.9492), not 0.875.
///   vit_b_16       V1 resize 256 → crop 224 (0.875). (The SWAG weights use 384 or 224 with bicubic, no crop.)
/// </summary>
public static class TorchvisionZoo
{
    public const long ResNet50Parameters = 25_557_032;
    public const long ConvNeXtTinyParameters = 28_589_128;
    public const long VitB16Parameters = 86_567_656;

    public static IEnumerable<ModelEntry> Entries =>
    [
        ModelEntry.Classifier("resnet50", "torchvision ResNet-50 (v1.5 Bottleneck); loads torchvision state dicts as is",
            ResNet50Parameters, new DataConfig { CropFraction = 0.875, Interpolation = "bilinear" },
            (p, o) =>
            {
                NoDropPath("resnet50", o);
                return new ResNet(p, ResNetConfig.ResNet50 with { NumClasses = o.NumClasses ?? 1000 });
            }),
        ModelEntry.Classifier("convnext_tiny", "torchvision ConvNeXt-T; loads torchvision state dicts as is",
            ConvNeXtTinyParameters, new DataConfig { CropFraction = 224.0 / 236, Interpolation = "bilinear" },
            (p, o) => new ConvNeXt(p, ConvNeXtConfig.Tiny with
            {
                NumClasses = o.NumClasses ?? 1000,
                // ASSUMPTION: as timm's create_model, the caller's DropPath (default 0), not torchvision's builder
                // default of 0.1 (which only matters in training; eval outputs are the same).
                StochasticDepthProb = o.DropPath,
                FeaturesOnly = o.FeaturesOnly,
            })),
        ModelEntry.Classifier("vit_b_16", "torchvision ViT-B/16 (fixed input size); loads torchvision state dicts as is",
            VitB16Parameters, new DataConfig { CropFraction = 0.875, Interpolation = "bilinear" },
            (p, o) =>
            {
                NoDropPath("vit_b_16", o);
                return new VisionTransformer(p, VisionTransformerConfig.B16 with
                {
                    NumClasses = o.NumClasses ?? 1000,
                    ImageSize = o.ImageSize ?? VisionTransformerConfig.B16.ImageSize,
                });
            }),
    ];

    /// <summary>torchvision's ResNet and ViT have no stochastic depth; a requested rate is an error, not silently dropped.</summary>
    private static void NoDropPath(string model, ModelOptions o)
    {
        if (o.DropPath != 0)
            throw new ArgumentException($"{model}: DropPath {o.DropPath} was requested, but torchvision's {model} has no stochastic depth.");
    }
}
