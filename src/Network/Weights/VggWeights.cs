namespace IlgpuStyle.Network.Weights;

/// <summary>
/// A set of VGG weights in memory: float32 tensors by name ("conv1_1.weight" OIHW, "conv1_1.bias"), the input
/// preprocessing they were trained with, and where they came from. Load/Save use IlgpuStyle's own .ilgw format
/// (weights/README.md); converters from TF.js and PyTorch checkpoints live in <see cref="WeightsConverter"/>.
/// </summary>
public sealed class VggWeights
{
    private readonly Dictionary<string, WeightTensor> _tensors;

    public VggWeights(IEnumerable<WeightTensor> tensors, Preprocessing preprocessing, string convertedFrom)
    {
        _tensors = new Dictionary<string, WeightTensor>();
        var ordered = new List<WeightTensor>();
        foreach (var t in tensors)
        {
            if (!_tensors.TryAdd(t.Name, t)) throw new ArgumentException($"tensor {t.Name} given twice");
            ordered.Add(t);
        }
        Ordered = ordered;
        Preprocessing = preprocessing;
        ConvertedFrom = convertedFrom;
    }

    /// <summary>Tensors by name; enumeration follows file order.</summary>
    public IReadOnlyDictionary<string, WeightTensor> Tensors => new OrderedView(this);

    /// <summary>Tensors in file order.</summary>
    public IReadOnlyList<WeightTensor> Ordered { get; }

    public Preprocessing Preprocessing { get; }

    /// <summary>Free text: which checkpoints these weights were converted from.</summary>
    public string ConvertedFrom { get; }

    /// <summary>The file these weights were loaded from (null when built in memory).</summary>
    public string? FilePath { get; init; }

    /// <summary>Hex SHA-256 of the .ilgw payload, verified on load (null when built in memory).</summary>
    public string? Sha256 { get; init; }

    /// <summary>How the loaded file stored the values (F32 for weights built in memory).</summary>
    public StorageDType StoredAs { get; init; } = StorageDType.F32;

    /// <summary>The header entries of the loaded file (empty when built in memory).</summary>
    public IReadOnlyList<IlgwTensorInfo> Entries { get; init; } = [];

    /// <summary>Reads and fully validates an .ilgw file (magic, version, header, lengths, SHA-256).</summary>
    /// <exception cref="WeightsFormatException">Anything wrong with the file; the message names the file.</exception>
    public static VggWeights Load(string path) => IlgwReader.Read(path);

    /// <summary>Writes an .ilgw file atomically (temporary file in the same directory, then moved over <paramref name="path"/>).</summary>
    public IlgwSaveResult Save(string path, StorageDType dtype = StorageDType.F32) => IlgwWriter.Write(path, this, dtype);

    public WeightTensor Weight(ConvLayerSpec layer) => Get(layer.WeightName);
    public WeightTensor Bias(ConvLayerSpec layer) => Get(layer.BiasName);

    public WeightTensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw WeightsFormatException.For(Label, $"has no tensor {name}");

    /// <summary>
    /// Checks that every layer of <paramref name="expected"/> (e.g. <see cref="Vgg19Layout.ConvLayers"/>) has a weight
    /// Cout×Cin×3×3 and a bias of Cout values. Throws one <see cref="WeightsFormatException"/> listing every problem.
    /// </summary>
    public void Validate(IReadOnlyList<ConvLayerSpec> expected)
    {
        var missing = new List<string>();
        var wrong = new List<string>();
        foreach (var layer in expected)
        {
            Check(layer.WeightName, [layer.Cout, layer.Cin, ConvLayerSpec.KernelSize, ConvLayerSpec.KernelSize]);
            Check(layer.BiasName, [layer.Cout]);
        }
        if (missing.Count == 0 && wrong.Count == 0) return;
        var parts = new List<string>();
        if (missing.Count > 0) parts.Add($"missing {string.Join(", ", missing)}");
        if (wrong.Count > 0) parts.Add(string.Join("; ", wrong));
        throw WeightsFormatException.For(Label, "not a complete VGG19 conv stack: " + string.Join("; ", parts));

        void Check(string name, int[] dims)
        {
            if (!_tensors.TryGetValue(name, out var t)) missing.Add(name);
            else if (!t.Dims.SequenceEqual(dims))
                wrong.Add($"{name} has shape {WeightTensor.FormatDims(t.Dims)}, expected {WeightTensor.FormatDims(dims)}");
        }
    }

    private string Label => FilePath ?? "weights";

    /// <summary>Dictionary view whose enumeration follows <see cref="Ordered"/>.</summary>
    private sealed class OrderedView(VggWeights w) : IReadOnlyDictionary<string, WeightTensor>
    {
        public WeightTensor this[string key] => w._tensors[key];
        public IEnumerable<string> Keys => w.Ordered.Select(t => t.Name);
        public IEnumerable<WeightTensor> Values => w.Ordered;
        public int Count => w.Ordered.Count;
        public bool ContainsKey(string key) => w._tensors.ContainsKey(key);
        public bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out WeightTensor value) =>
            w._tensors.TryGetValue(key, out value);
        public IEnumerator<KeyValuePair<string, WeightTensor>> GetEnumerator() =>
            w.Ordered.Select(t => KeyValuePair.Create(t.Name, t)).GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
