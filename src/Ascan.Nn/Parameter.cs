// A named slot holding a parameter or buffer tensor; modules read the tensor through it so To() can swap it.
using Ascan.Core;

namespace Ascan.Nn;

/// <summary>
/// A parameter (trained, RequiresGrad) or buffer (state such as BatchNorm running statistics) under its
/// full state-dict key. <see cref="Value"/> is replaced by <see cref="Module.To"/>; loading copies in place.
/// </summary>
public sealed class Parameter
{
    public string Name { get; }
    public bool IsBuffer { get; }
    public Tensor Value { get; private set; }

    internal Parameter(string name, Tensor value, bool isBuffer)
    {
        Name = name; IsBuffer = isBuffer; Value = value;
        Adopt(value);
    }

    internal void Replace(Tensor value) { Value = value; Adopt(value); }

    private void Adopt(Tensor t)
    {
        t.Name = Name;
        t.RequiresGrad = !IsBuffer;
    }

    public int[] Shape => Value.ShapeArray();

    public override string ToString() => $"{(IsBuffer ? "buffer" : "parameter")} {Name} {ShapeUtil.Format(Value.Shape)} {Value.DType}";
}
