// Tensors to and from safetensors files: the bridge between Tensor and the array-level reader/writer.
namespace Ascan.Core.IO;

public static class TensorFile
{
    /// <summary>Every tensor of a safetensors file, in file order, converted to <paramref name="dtype"/>.</summary>
    public static Dictionary<string, Tensor> Load(string path, DType dtype = DType.F32)
    {
        var f = SafetensorsFile.Open(path);
        var r = new Dictionary<string, Tensor>();
        foreach (var e in f.Entries.Values.OrderBy(e => e.Begin)) r[e.Name] = Read(f, e.Name, dtype);
        return r;
    }

    /// <summary>One named tensor (persistent storage), converted from the stored type to <paramref name="dtype"/>.</summary>
    public static Tensor Read(SafetensorsFile f, string name, DType dtype = DType.F32)
    {
        var e = f.GetEntry(name);
        var s = Storage.AllocatePersistent(dtype, checked((int)e.ElementCount));
        if (dtype == DType.F32) f.ReadFloat(name, s.Array<float>()); else f.ReadDouble(name, s.Array<double>());
        return new Tensor(s, (int[])e.Shape.Clone()) { Name = name };
    }

    /// <summary>Writes tensors (any views; stored as their own dtype) atomically, with optional metadata.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.Select(kv =>
        {
            var t = kv.Value;
            return t.DType == DType.F32
                ? SafetensorsTensor.FromSingle(kv.Key, t.ShapeArray(), t.ToArray<float>())
                : SafetensorsTensor.FromDouble(kv.Key, t.ShapeArray(), t.ToArray<double>());
        }).ToList();
        SafetensorsFile.Write(path, items, metadata);
    }
}
