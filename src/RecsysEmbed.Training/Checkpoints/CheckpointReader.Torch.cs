using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>TorchSharp tensors, modules and optimizers (the dense part of the model).</summary>
public sealed partial class CheckpointReader
{
    /// <summary>A new CPU tensor holding an entry written by <see cref="CheckpointWriter.AddTensor"/>. The caller disposes it.</summary>
    public Tensor ReadTensor(string name)
    {
        var entry = Entry(name, CheckpointEntryKind.Tensor);
        var (dtype, shape) = TensorInfo(entry, entry.Metadata, "");
        var tensor = empty(shape, dtype);
        try
        {
            if (tensor.NumberOfElements * tensor.ElementSize != entry.Length)
                throw BadEntry(entry, $"{dtype} {Shape(shape)} does not match {entry.Length} bytes.");
            using var stream = OpenEntry(entry);
            ReadTensor(stream, tensor);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads an entry written by <see cref="CheckpointWriter.AddStateDict(string, nn.Module)"/> into
    /// <paramref name="module"/>'s parameters and buffers, in place. Strict: the key sets must be equal and each
    /// tensor's dtype and shape must match; all of that is checked before any tensor changes.
    /// </summary>
    /// <exception cref="CheckpointException">ShapeMismatch listing missing or unexpected keys, or the first tensor that differs.</exception>
    public void LoadStateDict(string name, nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        var entry = Entry(name, CheckpointEntryKind.StateDict);
        var items = StateDictItems(entry);
        var target = module.state_dict();

        var saved = items.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        var missing = target.Keys.Where(k => !saved.Contains(k)).ToList();
        var unexpected = items.Where(i => !target.ContainsKey(i.Key)).Select(i => i.Key).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry),
                $"entry '{name}' does not fit module {module.GetName()}: missing keys [{string.Join(", ", missing)}], unexpected keys [{string.Join(", ", unexpected)}].");
        foreach (var item in items)
        {
            var t = target[item.Key];
            if (t.dtype != item.DType || !t.shape.SequenceEqual(item.Shape))
                throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry),
                    $"entry '{name}' key '{item.Key}' is {item.DType} {Shape(item.Shape)}, module has {t.dtype} {Shape(t.shape)}.");
        }

        using var stream = OpenEntry(entry);
        foreach (var item in items)
        {
            using var staging = empty(item.Shape, item.DType);
            ReadTensor(stream, staging);
            using (no_grad()) target[item.Key].copy_(staging);
        }
    }

    /// <summary>Loads an entry written by <see cref="CheckpointWriter.AddOptimizer"/> into an optimizer over the same parameters.</summary>
    /// <exception cref="CheckpointException">ShapeMismatch when TorchSharp refuses the state (different parameters or optimizer type).</exception>
    public void LoadOptimizer(string name, OptimizerHelper optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        var entry = Entry(name, CheckpointEntryKind.TorchOptimizer);
        string type = MetaValue<string>(entry, entry.Metadata, "type", "");
        if (type != optimizer.GetType().Name)
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry), $"entry '{name}' holds a {type} optimizer, got a {optimizer.GetType().Name}.");
        using var stream = OpenEntry(entry);
        using var reader = new BinaryReader(stream);
        try
        {
            optimizer.load_state_dict(reader);
        }
        catch (Exception e) when (e is not CheckpointException and not IOException)
        {
            throw new CheckpointException(CheckpointProblem.ShapeMismatch, FilePath(entry), $"TorchSharp refused optimizer state '{name}': {e.Message}", e);
        }
    }

    private readonly record struct StateDictItem(string Key, ScalarType DType, long[] Shape, long Offset, long Length);

    private List<StateDictItem> StateDictItems(CheckpointEntry entry)
    {
        var list = entry.Metadata["tensors"] as JsonArray ?? throw BadEntry(entry, "metadata has no tensors list.");
        var items = new List<StateDictItem>(list.Count);
        long offset = 0;
        for (int i = 0; i < list.Count; i++)
        {
            string at = $"tensors[{i}].";
            var obj = list[i] as JsonObject ?? throw BadEntry(entry, $"{at[..^1]} is not an object.");
            string key = MetaValue<string>(entry, obj, "key", at);
            long itemOffset = MetaValue<long>(entry, obj, "offset", at);
            long length = MetaValue<long>(entry, obj, "length", at);
            var (dtype, shape) = TensorInfo(entry, obj, at);
            if (itemOffset != offset || length != shape.Aggregate(1L, (a, b) => a * b) * ElementSize(dtype))
                throw BadEntry(entry, $"{at}offset {itemOffset} / length {length} do not follow from the tensors before it and {dtype} {Shape(shape)}.");
            items.Add(new StateDictItem(key, dtype, shape, itemOffset, length));
            offset += length;
        }
        if (offset != entry.Length) throw BadEntry(entry, $"tensors add up to {offset} bytes, the file has {entry.Length}.");
        return items;
    }

    private (ScalarType DType, long[] Shape) TensorInfo(CheckpointEntry entry, JsonObject obj, string at)
    {
        string dtypeName = MetaValue<string>(entry, obj, "dtype", at);
        if (!Enum.TryParse<ScalarType>(dtypeName, out var dtype) || !Enum.IsDefined(dtype))
            throw BadEntry(entry, $"{at}dtype '{dtypeName}' is not a TorchSharp ScalarType.");
        if (obj["shape"] is not JsonArray dims) throw BadEntry(entry, $"{at}shape is missing or not an array.");
        var shape = new long[dims.Count];
        for (int d = 0; d < shape.Length; d++)
        {
            if (dims[d] is not JsonValue v || !v.TryGetValue(out shape[d]) || shape[d] < 0)
                throw BadEntry(entry, $"{at}shape[{d}] is not a whole number >= 0.");
        }
        return (dtype, shape);
    }

    private static long ElementSize(ScalarType dtype)
    {
        using var probe = empty(0, dtype);
        return probe.ElementSize;
    }

    /// <summary>Fills a new contiguous CPU tensor from the stream, chunk by chunk through views of its storage.</summary>
    private void ReadTensor(Stream stream, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        var flat = tensor.reshape(-1);
        long count = flat.NumberOfElements;
        long perChunk = Math.Max(1, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < count; start += perChunk)
            stream.ReadExactly(flat.narrow(0, start, Math.Min(perChunk, count - start)).bytes);
    }

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";
}
