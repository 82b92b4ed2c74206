// Test kit for the VAE task and the latent cache: a tiny AutoencoderKL and smooth images in [−1, 1].
using Ascan.Core;
using Ascan.Models;
using Ascan.Models.Generation;
using Ascan.Nn;

namespace Ascan.Training.Tests;

internal static class VaeTestKit
{
    /// <summary>8/16 wide, one layer per block, 4 groups, latent 4 at 1/2, scaling 0.5 (so scaling is visible in the cache).</summary>
    public static AutoencoderKLConfig Config => new() { BlockOutChannels = [8, 16], LayersPerBlock = 1, LatentChannels = 4, NormNumGroups = 4, ScalingFactor = 0.5 };

    public static AutoencoderKL Create(ulong seed = 3) => Config.Build(ParamPath.Root(rng: new Rng(seed)));

    /// <summary>The generation data config: 0.5/0.5 normalisation, so images are in [−1, 1].</summary>
    public static DataConfig Data(int size) => new() { InputSize = size, Mean = [0.5, 0.5, 0.5], Std = [0.5, 0.5, 0.5], CropFraction = 1, NumClasses = 0 };

    /// <summary>
    /// <paramref name="count"/> (3, size, size) images in [−1, 1]: per image and channel a random linear ramp, labels n % 3
    /// ("a", "b", "c"), served in dataset order unless <paramref name="shuffle"/>.
    /// </summary>
    public static InMemorySource Images(int count, int size, int batchSize, ulong seed, bool shuffle = false)
    {
        var rng = new Rng(seed);
        int per = 3 * size * size;
        var images = new float[count * per];
        var labels = new int[count];
        for (int n = 0; n < count; n++)
        {
            labels[n] = n % 3;
            for (int c = 0; c < 3; c++)
            {
                double a = rng.NextDouble() - 0.5, b = rng.NextDouble() - 0.5, o = rng.NextDouble() - 0.5;
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                        images[n * per + (c * size + y) * size + x] = (float)Math.Clamp(o + (a * x + b * y) / size * 2, -1, 1);
            }
        }
        return new InMemorySource(images, labels, 3, size, ["a", "b", "c"], batchSize, seed, shuffle);
    }
}
