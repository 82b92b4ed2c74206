// Registry entries of the UPerNet segmenters: every AsCAN preset and the two baselines as backbones, with parameter counts.
using Ascan.Models.Segmentation;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary>
/// <c>upernet_&lt;backbone&gt;</c>: a features-only registered classifier under mmseg's UPerNet heads (150 ADE20K
/// classes by default). Parameter counts are at the default classes and channels: features-only backbone (no final
/// norm, no head) + <see cref="UperNetConfig.HeadParameterCount"/> (decode and auxiliary head).
/// </summary>
public static class UperNetZoo
{
    // ASSUMPTION: the paper-scale heads are mmseg's upernet defaults (decode 512, aux 256). For ascan_nano, the model
    // meant for training on a 2-core CPU, we pick decode 64 and aux 32: at 512 channels the head's stride-4 convs
    // would cost several times the backbone; at 64 it is about as costly as the backbone.
    public const int NanoDecodeChannels = 64, NanoAuxChannels = 32;

    public static IEnumerable<ModelEntry> Entries =>
    [
        Entry("upernet_ascan_nano", "ascan_nano", "UPerNet on AsCAN nano (decode 64, aux 32): the CPU-trainable segmenter", 3_292_284, 256, NanoDecodeChannels, NanoAuxChannels),
        Entry("upernet_ascan_t", "ascan_t", "UPerNet on AsCAN-T (decode 512, aux 256)", 55_454_028),
        Entry("upernet_ascan_b", "ascan_b", "UPerNet on AsCAN-B (decode 512, aux 256)", 92_510_300),
        Entry("upernet_ascan_l", "ascan_l", "UPerNet on AsCAN-L (decode 512, aux 256)", 147_625_324),
        Entry("upernet_resnet50", "resnet50", "UPerNet on torchvision ResNet-50 (decode 512, aux 256), mmseg's upernet_r50", 66_496_876),
        Entry("upernet_convnext_tiny", "convnext_tiny", "UPerNet on torchvision ConvNeXt-T (decode 512, aux 256)", 60_239_756),
    ];

    /// <summary>The heads' config of a preset with the caller's options applied (classes, decode and aux channels).</summary>
    public static UperNetConfig Configure(ModelOptions options, int decodeChannels = 512, int auxChannels = 256) => new()
    {
        NumClasses = options.NumClasses ?? 150,
        Channels = options.DecodeChannels ?? decodeChannels,
        AuxChannels = options.AuxChannels ?? auxChannels,
    };

    // ASSUMPTION: ADE20K in mmseg: 512×512 crops, ImageNet mean/std, bilinear; no centre crop (fraction 1).
    private static DataConfig Data(int size) => new() { InputSize = size, CropFraction = 1.0, Interpolation = "bilinear", NumClasses = 150 };

    private static ModelEntry Entry(string name, string backbone, string description, long parameters, int inputSize = 512, int decode = 512, int aux = 256) =>
        new(name, ModelKind.Segmenter, description, parameters, Data(inputSize), (p, options) =>
        {
            var b = ModelRegistry.Get(backbone);
            var backboneOptions = options with { FeaturesOnly = true, NumClasses = 0, DecodeChannels = null, AuxChannels = null };
            return new Segmenter(p, q => (ClassifierModel)b.Factory(q, backboneOptions), Configure(options, decode, aux));
        });
}
