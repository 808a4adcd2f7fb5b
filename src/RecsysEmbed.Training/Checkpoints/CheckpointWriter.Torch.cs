using System.Text;
using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RecsysEmbed.Training.Checkpoints;

/// <summary>TorchSharp tensors, modules and optimizers (the dense part of the model).</summary>
public sealed partial class CheckpointWriter
{
    /// <summary>
    /// Adds one tensor (any dtype, any device): its raw bytes in row-major order, streamed in chunks, with
    /// metadata { "dtype": "Float32", "shape": [..] }. Read back with <see cref="CheckpointReader.ReadTensor"/>.
    /// </summary>
    public void AddTensor(string name, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        AddEntryOfKind(name, CheckpointEntryKind.Tensor, stream => WriteTensor(stream, tensor), TensorInfo(tensor));
    }

    /// <summary>
    /// Adds a module's state_dict (parameters and buffers) as one entry: the tensors back to back, listed in
    /// metadata with key, dtype, shape, offset and length. Restore with <see cref="CheckpointReader.LoadStateDict"/>.
    /// </summary>
    public void AddStateDict(string name, nn.Module module)
    {
        ArgumentNullException.ThrowIfNull(module);
        AddStateDict(name, module.state_dict());
    }

    /// <summary>Adds a name-to-tensor map (as returned by state_dict) as one entry; see <see cref="AddStateDict(string, nn.Module)"/>.</summary>
    public void AddStateDict(string name, IReadOnlyDictionary<string, Tensor> stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        var items = stateDict.ToList(); // one fixed order for the listing and the bytes
        var list = new JsonArray();
        long offset = 0;
        foreach (var (key, tensor) in items)
        {
            var info = TensorInfo(tensor);
            long length = tensor.NumberOfElements * tensor.ElementSize;
            info["key"] = key;
            info["offset"] = offset;
            info["length"] = length;
            list.Add(info);
            offset += length;
        }
        AddEntryOfKind(name, CheckpointEntryKind.StateDict, stream =>
        {
            foreach (var (_, tensor) in items) WriteTensor(stream, tensor);
        }, new JsonObject { ["tensors"] = list });
    }

    /// <summary>
    /// Adds a TorchSharp optimizer's state (step counts, moments, hyper-parameters) in TorchSharp's own
    /// save_state_dict format. Restore with <see cref="CheckpointReader.LoadOptimizer"/> into an optimizer built
    /// over the same parameters.
    /// </summary>
    public void AddOptimizer(string name, OptimizerHelper optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        AddEntryOfKind(name, CheckpointEntryKind.TorchOptimizer, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
            optimizer.save_state_dict(writer);
            writer.Flush();
        }, new JsonObject { ["type"] = optimizer.GetType().Name });
    }

    internal static JsonObject TensorInfo(Tensor tensor) => new()
    {
        ["dtype"] = tensor.dtype.ToString(),
        ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
    };

    /// <summary>Streams a tensor's bytes in chunks of views, so no managed copy of the whole tensor is made.</summary>
    private void WriteTensor(Stream stream, Tensor tensor)
    {
        using var scope = NewDisposeScope();
        // detach() first: every later call returns either a new tensor or that one, so the scope frees only its own.
        var flat = tensor.detach().cpu().contiguous().reshape(-1);
        long count = flat.NumberOfElements;
        long perChunk = Math.Max(1, _options.ChunkBytes / flat.ElementSize);
        for (long start = 0; start < count; start += perChunk)
            stream.Write(flat.narrow(0, start, Math.Min(perChunk, count - start)).bytes);
    }
}
