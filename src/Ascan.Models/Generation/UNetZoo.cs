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
    // unet_shapes: 5,095,427 parameters (UNetConfig.Shapes.ParameterCount()), 0.465 GMACs per 32×32 image.
    // unet_imagenet_256: 29.4 GMACs (≈ 58.9 GFLOPs) per 32×32×4 latent, half of DiT-XL/2's 118.6 GFLOPs.
    public static IEnumerable<ModelEntry> Entries =>
    [
        Entry("unet_shapes", "Diffusion UNet CC·CT·TT | TT @ 32,64,128, pixel space 32×32×3, 5 classes: the CPU-trainable generator", UNetConfig.Shapes, 0),
        Entry("unet_imagenet_256", "Diffusion UNet CC·CTT·TTTTT | TTTT @ 256,512,768 [ours] on 32×32×4 latents, 1000 classes, ≈ half DiT-XL/2's FLOPs", UNetConfig.ImageNet256, 0),
    ];

    /// <summary>The preset's config with the caller's options applied.</summary>
    public static UNetConfig Configure(UNetConfig preset, ModelOptions options) =>
        preset with { NumClasses = options.NumClasses ?? preset.NumClasses, ImageSize = options.ImageSize ?? preset.ImageSize };

    private static ModelEntry Entry(string name, string description, UNetConfig preset, long parameters) =>
        new(name, ModelKind.Generator, description, parameters > 0 ? parameters : preset.ParameterCount(),
            new DataConfig { InputSize = preset.ImageSize, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1.0, Interpolation = "bilinear", NumClasses = preset.NumClasses },
            (p, options) => new UNetModel(p, Configure(preset, options)));
}
