// Registry entries of the torchvision baselines.
namespace Ascan.Models;

public static class TorchvisionZoo
{
    public static IEnumerable<ModelEntry> Entries => [];
}
