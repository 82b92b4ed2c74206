// The Tensor: shape, strides over shared storage, and the autograd fields.
using System.Text;

namespace Ascan.Core;

/// <summary>
/// An n-dimensional array of float32 or float64. Views (reshape, permute, slice, expand) share
/// storage and carry strides; every other op makes its inputs contiguous on entry and returns a
/// contiguous result. Image activations are channels-last (B, H, W, C) inside the engine.
/// </summary>
public sealed partial class Tensor
{
    private readonly int[] _shape;
    internal readonly int[] Strides;
    internal readonly int Offset;
    public Storage Storage { get; }

    /// <summary>Set on leaves that should receive gradients; true on results of ops on such tensors.</summary>
    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (GradFn != null) throw new InvalidOperationException("RequiresGrad can only be set on leaf tensors (this one is the result of an op).");
            _requiresGrad = value;
        }
    }
    private bool _requiresGrad;

    /// <summary>Accumulated gradient of a leaf after Backward (null until a gradient arrives).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The autograd node that produced this tensor; null for leaves.</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>Gradient being accumulated for a non-leaf during a backward pass.</summary>
    internal Tensor? PendingGrad;

    /// <summary>Optional name (parameter path) used in error messages.</summary>
    public string? Name { get; set; }

    internal Tensor(Storage storage, int[] shape, int[] strides, int offset)
    {
        Storage = storage; _shape = shape; Strides = strides; Offset = offset;
    }

    internal Tensor(Storage storage, int[] shape) : this(storage, shape, ContiguousStrides(shape), 0) { }

    public ReadOnlySpan<int> Shape => _shape;
    public int[] ShapeArray() => (int[])_shape.Clone();
    public int Rank => _shape.Length;
    public DType DType => Storage.DType;
    public int Numel => ShapeUtil.Numel(_shape);
    public bool IsLeaf => GradFn == null;

    /// <summary>Size along an axis; negative axes count from the end.</summary>
    public int Dim(int axis) => _shape[ShapeUtil.Axis(axis, Rank)];

    public bool IsContiguous
    {
        get
        {
            int expected = 1;
            for (int i = _shape.Length - 1; i >= 0; i--)
            {
                if (_shape[i] != 1 && Strides[i] != expected) return false;
                expected *= _shape[i];
            }
            return true;
        }
    }

    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    // ---------------------------------------------------------------- creation

    /// <summary>A new contiguous tensor (pooled inside a TensorScope), zero-filled unless told otherwise.</summary>
    public static Tensor Empty(ReadOnlySpan<int> shape, DType dtype = DType.F32, bool zero = true)
    {
        var sh = shape.ToArray();
        return new Tensor(Storage.Allocate(dtype, ShapeUtil.Numel(sh), zero), sh);
    }

    public static Tensor Zeros(params int[] shape) => Empty(shape);
    public static Tensor Zeros(DType dtype, params int[] shape) => Empty(shape, dtype);
    public static Tensor Ones(params int[] shape) => Full(1, DType.F32, shape);
    public static Tensor Ones(DType dtype, params int[] shape) => Full(1, dtype, shape);

    public static Tensor Full(double value, DType dtype, params int[] shape)
    {
        var t = Empty(shape, dtype, zero: false);
        if (dtype == DType.F32) t.Storage.Array<float>().AsSpan(0, t.Numel).Fill((float)value);
        else t.Storage.Array<double>().AsSpan(0, t.Numel).Fill(value);
        return t;
    }

    /// <summary>A contiguous tensor over existing storage (no copy); the storage must hold at least the shape's elements.</summary>
    public static Tensor FromStorage(Storage storage, params int[] shape)
    {
        int n = ShapeUtil.Numel(shape);
        if (n > storage.Length) throw new ArgumentException($"Storage of {storage.Length} elements is too small for shape {ShapeUtil.Format(shape)}.");
        return new Tensor(storage, (int[])shape.Clone());
    }

    /// <summary>A contiguous float32 tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray(float[] data, params int[] shape) => FromSpan<float>(data, shape);
    public static Tensor FromArray(double[] data, params int[] shape) => FromSpan<double>(data, shape);

    public static Tensor FromSpan<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape) where T : unmanaged
    {
        int n = ShapeUtil.Numel(shape);
        if (n != data.Length)
            throw new ArgumentException($"Data has {data.Length} elements but shape {ShapeUtil.Format(shape)} needs {n}.");
        var t = Empty(shape, DTypeExtensions.Of<T>(), zero: false);
        data.CopyTo(t.Storage.Array<T>());
        return t;
    }

    public static Tensor Scalar(double value, DType dtype = DType.F32) => Full(value, dtype);

    /// <summary>Standard normal samples from a seeded generator.</summary>
    public static Tensor Randn(Rng rng, DType dtype, params int[] shape)
    {
        var t = Empty(shape, dtype, zero: false);
        if (dtype == DType.F32) { var a = t.Storage.Array<float>(); for (int i = 0; i < t.Numel; i++) a[i] = (float)rng.NextNormal(); }
        else { var a = t.Storage.Array<double>(); for (int i = 0; i < t.Numel; i++) a[i] = rng.NextNormal(); }
        return t;
    }

    /// <summary>Uniform samples in [lo, hi) from a seeded generator.</summary>
    public static Tensor Rand(Rng rng, DType dtype, double lo, double hi, params int[] shape)
    {
        var t = Empty(shape, dtype, zero: false);
        if (dtype == DType.F32) { var a = t.Storage.Array<float>(); for (int i = 0; i < t.Numel; i++) a[i] = (float)(lo + (hi - lo) * rng.NextDouble()); }
        else { var a = t.Storage.Array<double>(); for (int i = 0; i < t.Numel; i++) a[i] = lo + (hi - lo) * rng.NextDouble(); }
        return t;
    }

    // ---------------------------------------------------------------- element access

    /// <summary>The elements of a contiguous tensor, in order. Throws for non-contiguous views.</summary>
    public Span<T> Span<T>() where T : unmanaged
    {
        if (!IsContiguous) throw new InvalidOperationException("Span<T>() needs a contiguous tensor; call Contiguous() first.");
        return Storage.Array<T>().AsSpan(Offset, Numel);
    }

    /// <summary>
    /// The elements of a contiguous tensor for reading only. Unlike <see cref="Span{T}"/> it does not count as an
    /// access that may write (<see cref="Storage.Version"/> is unchanged), so reading a weight every step keeps the
    /// caches derived from it (folded, pre-packed inference weights) valid.
    /// </summary>
    public ReadOnlySpan<T> ReadSpan<T>() where T : unmanaged
    {
        if (!IsContiguous) throw new InvalidOperationException("ReadSpan<T>() needs a contiguous tensor; call Contiguous() first.");
        return Storage.ReadArray<T>().AsSpan(Offset, Numel);
    }

    /// <summary>A copy of the elements in logical (row-major) order, converted to T.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var c = Contiguous();
        if (DTypeExtensions.Of<T>() == DType) return c.Span<T>().ToArray();
        var r = new T[Numel];
        if (typeof(T) == typeof(float)) { var s = c.Span<double>(); var d = (float[])(object)r; for (int i = 0; i < d.Length; i++) d[i] = (float)s[i]; }
        else { var s = c.Span<float>(); var d = (double[])(object)r; for (int i = 0; i < d.Length; i++) d[i] = s[i]; }
        return r;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, this one has shape {ShapeUtil.Format(_shape)}.");
        return DType == DType.F32 ? Storage.Array<float>()[Offset] : Storage.Array<double>()[Offset];
    }

    /// <summary>Keeps this tensor's storage alive past the current TensorScope.</summary>
    public Tensor Keep()
    {
        Storage.Kept = true;
        return this;
    }

    /// <summary>A tensor sharing storage but cut off from the graph.</summary>
    public Tensor Detach() => new(Storage, _shape, Strides, Offset);

    /// <summary>A contiguous copy with its own persistent storage, cut off from the graph.</summary>
    public Tensor Clone()
    {
        var c = Contiguous();
        var s = Storage.AllocatePersistent(DType, Numel);
        if (DType == DType.F32) c.Span<float>().CopyTo(s.Array<float>()); else c.Span<double>().CopyTo(s.Array<double>());
        return new Tensor(s, ShapeArray());
    }

    /// <summary>A copy converted to another element type (not differentiable).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return Contiguous().Clone();
        var r = Empty(_shape, dtype, zero: false);
        if (dtype == DType.F64) ToArray<double>().CopyTo(r.Span<double>()); else ToArray<float>().CopyTo(r.Span<float>());
        return r;
    }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor(").Append(ShapeUtil.Format(_shape)).Append(", ").Append(DType);
        if (GradFn != null) sb.Append(", grad_fn=").Append(GradFn.Name);
        else if (RequiresGrad) sb.Append(", requires_grad");
        if (!Storage.IsReleased && Numel <= 8)
        {
            sb.Append(", [");
            var v = ToArray<double>();
            sb.AppendJoin(", ", v.Select(x => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
            sb.Append(']');
        }
        return sb.Append(')').ToString();
    }
}
