// Registry entries of the KL autoencoders (diffusers' AutoencoderKL): SD v1's VAE and a small one for shapes.
using Ascan.Models.Generation;
using Ascan.Nn;

namespace Ascan.Models;

/// <summary><c>vae_sd</c> (an SD VAE saved as safetensors loads into it strictly) and <c>vae_shapes</c>; parameter counts from tools/vae_reference.py.</summary>
public static class VaeZoo
{
    public static IEnumerable<ModelEntry> Entries =>
    [
        Entry("vae_sd", "Stable Diffusion v1 KL-f8 autoencoder (diffusers AutoencoderKL, 128/256/512/512, latent 4, scaling 0.18215)", 83_653_863, AutoencoderKLConfig.Sd, 256),
        Entry("vae_shapes", "Small KL-f2 autoencoder for shapes at 32–64 px (32/64, latent 4) [ours]", 658_375, AutoencoderKLConfig.Shapes, 32),
    ];

    // ASSUMPTION: images in [−1, 1] as diffusers' VAEs expect: mean 0.5, std 0.5 per channel; no centre crop.
    private static DataConfig Data(int size) => new() { InputSize = size, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1.0, Interpolation = "bilinear", NumClasses = 0 };

    private static ModelEntry Entry(string name, string description, long parameters, AutoencoderKLConfig config, int size) =>
        new(name, ModelKind.Generator, description, parameters, Data(size), (p, _) => new AutoencoderKL(p, config));
}
