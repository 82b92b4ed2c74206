// Shared base of the torchvision baselines: replacing the final Linear for ResetClassifier.
using Ascan.Core;
using Ascan.Nn;

namespace Ascan.Models.Baselines;

/// <summary>A classifier whose head ends in one Linear at a torchvision key ("fc", "classifier.2", "heads.head").</summary>
public abstract class TorchvisionClassifier(ParamPath p) : ClassifierModel(p)
{
    /// <summary>
    /// A fresh Linear for <paramref name="numClasses"/> classes built by <paramref name="make"/> at the key
    /// <paramref name="name"/> (relative to this model), in place of <paramref name="head"/>; null for 0 classes.
    /// The new head keeps the model's element type and train/eval mode.
    /// </summary>
    protected Linear? ReplaceHead(Linear? head, string name, int numClasses, Func<ParamPath, Linear> make)
    {
        if (numClasses < 0) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "Number of classes must be ≥ 0.");
        if (head != null && numClasses > 0) return ReplaceChild(name, make);
        if (head != null) { RemoveChild(name); return null; }
        if (numClasses == 0) return null;
        // No head yet (built with 0 classes): the new one registers last, which is where torchvision's head sits.
        var path = name.Split('.').Aggregate(Path, (q, segment) => q.Sub(segment));
        var m = make(path);
        var dtype = Slots().Select(s => (DType?)s.Value.DType).FirstOrDefault();
        if (dtype is DType d && d != path.DType) m.To(d);
        m.Train(Training);
        return m;
    }
}
