// Registry entries of the AsCAN presets.
namespace Ascan.Models;

public static class AscanZoo
{
    public static IEnumerable<ModelEntry> Entries => [];
}
