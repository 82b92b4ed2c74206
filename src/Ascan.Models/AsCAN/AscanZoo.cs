// Registry entries of the AsCAN presets: documented parameter counts (SPEC §2) and timm-style data configs.
using Ascan.Models.AsCAN;

namespace Ascan.Models;

public static class AscanZoo
{
    // ASSUMPTION: the paper's evaluation transform is not available; we use ImageNet mean/std, bicubic resize and
    // crop fraction 0.95, the setting timm uses for recent conv-attention hybrids trained with strong augmentation.
    private static DataConfig Data(int size) => new() { InputSize = size, CropFraction = 0.95, Interpolation = "bicubic" };

    public static IEnumerable<ModelEntry> Entries =>
    [
        Entry("ascan_nano", "AsCAN nano: C·CC·CTT·T at widths 32-256 (0.714 GMACs)", 2_863_800),
        Entry("ascan_t", "AsCAN-T: CC·CCC·CCCTTTTT·TTT at widths 64-512 (5.692 GMACs)", 25_660_424),
        Entry("ascan_b", "AsCAN-B: CC·CCC·CCCTTTTTTT·TTT at widths 96-768 (13.471 GMACs)", 60_859_672),
        Entry("ascan_l", "AsCAN-L: CC·CCC·CCCTTTTTTTTT·TTT at widths 128-1024 (25.157 GMACs)", 114_117_672),
    ];

    /// <summary>The preset's config with the caller's options applied (classes, drop-path rate, image size).</summary>
    public static AscanConfig Configure(string name, ModelOptions options)
    {
        var c = AscanConfig.Preset(name);
        return c with
        {
            NumClasses = options.NumClasses ?? c.NumClasses,
            DropPathRate = options.DropPath,
            ImageSize = options.ImageSize ?? c.ImageSize,
            FeaturesOnly = options.FeaturesOnly,
        };
    }

    private static ModelEntry Entry(string name, string description, long parameters) =>
        ModelEntry.Classifier(name, description, parameters, Data(224), (p, options) => new AscanModel(p, Configure(name, options)));
}
