// Conversions between Tensor and the safetensors IO layer: save and load state dicts (model weights, optimizer state).
using Ascan.Core;
using Ascan.Core.IO;

namespace Ascan.Nn.Serialization;

public static class SafetensorsState
{
    /// <summary>
    /// Writes named tensors (F32 tensors as F32, F64 as F64 unless <paramref name="asFloat32"/>) atomically
    /// (the IO layer writes a temporary file and renames it).
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null, bool asFloat32 = false)
    {
        var list = new List<SafetensorsTensor>(tensors.Count);
        foreach (var (name, t) in tensors)
        {
            if (t.DType == DType.F32) list.Add(SafetensorsTensor.FromSingle(name, t.ShapeArray(), t.ToArray<float>()));
            else list.Add(SafetensorsTensor.FromDouble(name, t.ShapeArray(), t.ToArray<double>(), asFloat32 ? SafetensorsDType.F32 : SafetensorsDType.F64));
        }
        SafetensorsFile.Write(path, list, metadata);
    }

    /// <summary>
    /// Reads every tensor of a file: F64 entries as F64 tensors, other floating types (F32, F16, BF16, F8) as F32,
    /// integer entries (e.g. num_batches_tracked) as F64 values. Tensors have persistent storage.
    /// </summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        var file = SafetensorsFile.Open(path);
        var d = new Dictionary<string, Tensor>();
        foreach (var name in file.Names)
        {
            var e = file[name];
            var shape = e.Shape.ToArray();
            Tensor t = e.DType switch
            {
                SafetensorsDType.F64 => Tensor.FromArray(file.ReadDouble(name), shape),
                SafetensorsDType.F32 or SafetensorsDType.F16 or SafetensorsDType.BF16 or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2
                    => Tensor.FromArray(file.ReadFloat(name), shape),
                _ => Tensor.FromArray(file.ReadInt64(name).Select(v => (double)v).ToArray(), shape),
            };
            d[name] = t.Clone();
        }
        return d;
    }

    /// <summary>Saves a module's state dict (parameters and buffers under their PyTorch keys).</summary>
    public static void SaveModule(Module module, string path, IReadOnlyDictionary<string, string>? metadata = null) =>
        Save(path, module.StateDict(), metadata);

    /// <summary>Loads a file into a module (see <see cref="Module.LoadStateDict"/> for strict/lenient semantics).</summary>
    public static StateDictReport LoadModule(Module module, string path, bool strict = true) =>
        module.LoadStateDict(Load(path), strict);
}
