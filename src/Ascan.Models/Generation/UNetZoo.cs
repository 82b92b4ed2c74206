// Registry entries of the class-conditional diffusion UNets, with parameter counts and per-image MACs.
using Ascan.Models.Generation;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary>
/// <c>unet_shapes</c>: pixel-space 32×32×3, 5 classes (the shapes demo); <c>unet_imagenet_256</c> [ours]: 32×32×4
/// SD-VAE latents of ImageNet-256, 1000 classes. Options: NumClasses (the null class is added), ImageSize (data
/// config only: the network takes any size divisible by 4). Counts are at the default classes.
/// </summary>
public static class UNetZoo
{
    // unet_shapes: 3,017,635 parameters, 0.432 GMACs per 32×32×3 image (UNetConfig.Macs = MacCounter on a forward).
    // unet_imagenet_256: 252,412,676 parameters, 29.13 GMACs (≈ 58.3 GFLOPs) per 32×32×4 latent: 49 % of DiT-XL/2's
    // 118.6 GFLOPs. tools/unet_reference.py prints the same counts from the PyTorch transcription.
    public static IEnumerable<ModelEntry> Entries =>
    [
        Entry("unet_shapes", "Diffusion UNet CC·CT·TT | TT @ 32,64,128, pixel space 32×32×3, 5 classes: the CPU-trainable generator", UNetConfig.Shapes, 3_017_635),
        Entry("unet_imagenet_256", "Diffusion UNet CC·CTT·TTTTT | TTTT @ 256,512,768 [ours] on 32×32×4 latents, 1000 classes, ≈ half DiT-XL/2's FLOPs", UNetConfig.ImageNet256, 252_412_676),
    ];

    /// <summary>The preset's config with the caller's options applied.</summary>
    public static UNetConfig Configure(UNetConfig preset, ModelOptions options) =>
        preset with
        {
            NumClasses = options.NumClasses ?? preset.NumClasses, ImageSize = options.ImageSize ?? preset.ImageSize,
            InChannels = options.InChannels ?? preset.InChannels, OutChannels = options.InChannels != null ? 0 : preset.OutChannels,
        };

    private static ModelEntry Entry(string name, string description, UNetConfig preset, long parameters) =>
        new(name, ModelKind.Generator, description, parameters,
            new DataConfig { InputSize = preset.ImageSize, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1.0, Interpolation = "bilinear", NumClasses = preset.NumClasses },
            (p, options) => new UNetModel(p, Configure(preset, options)));
}
