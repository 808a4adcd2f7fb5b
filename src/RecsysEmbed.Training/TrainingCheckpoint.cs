using RecsysEmbed.Data.Readers;
using RecsysEmbed.Training.Checkpoints;
using TorchSharp.Modules;

namespace RecsysEmbed.Training;

/// <summary>
/// What a training checkpoint holds: every table matrix (or low-precision table's storage) with its optimizer
/// state and step count, the id vocabularies, the dense model and its optimizer, and where the data stopped
/// (epoch, reader position).
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>Checkpoint entry holding the model config's YAML, so tools can rebuild the model from the checkpoint alone.</summary>
    public const string ConfigEntry = "config.yaml";

    /// <summary>An <c>addMore</c> callback that stores <paramref name="config"/>'s YAML (nothing when it has none).</summary>
    public static Action<CheckpointWriter>? WithConfig(RecsysEmbed.Core.Config.ModelConfig config) =>
        config.SourceYaml is { } yaml ? writer => writer.AddBytes(ConfigEntry, System.Text.Encoding.UTF8.GetBytes(yaml)) : null;

    /// <summary>The model config stored in a checkpoint by <see cref="WithConfig"/>, or null when it has none.</summary>
    public static RecsysEmbed.Core.Config.ModelConfig? ReadConfig(CheckpointReader reader) =>
        reader.Entries.Any(e => e.Name == ConfigEntry)
            ? RecsysEmbed.Core.Config.ModelConfig.Parse(System.Text.Encoding.UTF8.GetString(reader.ReadBytes(ConfigEntry)))
            : null;

    /// <param name="addMore">Adds entries or metadata of the caller's own (for example stream offsets) before the commit.</param>
    public static string Save(string directory, ICtrTrainer trainer, FeatureVocabularies vocabularies, RunState state, Action<CheckpointWriter>? addMore = null)
    {
        using var writer = new CheckpointWriter(directory, state.Batches);
        foreach (var table in trainer.CheckpointTables) writer.AddTable(table);
        foreach (var v in vocabularies.All)
        {
            writer.AddEntry($"vocab/{v.FeatureName}", stream =>
            {
                using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                w.Write(v.Count);
                w.Write(v.Overflowed);
                foreach (var (id, index) in v.Entries()) { w.Write(id); w.Write(index); }
            });
        }
        foreach (var (name, module, optimizer) in trainer.DenseParts)
        {
            writer.AddStateDict($"{name}/model", module);
            writer.AddOptimizer($"{name}/optimizer", (OptimizerHelper)optimizer);
        }
        writer.SetMetadata("epoch", state.Epoch);
        writer.SetMetadata("batches", state.Batches);
        writer.SetMetadata("samples", state.Samples);
        writer.SetMetadata("malformed_skipped", state.MalformedSkipped);
        writer.SetMetadata("trainer_steps", trainer.Steps);
        if (state.Position is { } p)
        {
            writer.SetMetadata("position_byte", p.ByteOffset);
            writer.SetMetadata("position_line", p.LineNumber);
            writer.SetMetadata("position_record", p.RecordIndex);
        }
        addMore?.Invoke(writer);
        return writer.Commit().Path;
    }

    public static void Restore(CheckpointReader reader, ICtrTrainer trainer, FeatureVocabularies vocabularies, RunState state)
    {
        foreach (var table in trainer.CheckpointTables) reader.RestoreTable(table);
        foreach (var v in vocabularies.All)
        {
            using var stream = reader.OpenRead($"vocab/{v.FeatureName}");
            using var r = new BinaryReader(stream);
            long count = r.ReadInt64();
            long overflowed = r.ReadInt64();
            var entries = new (long, int)[count];
            for (long i = 0; i < count; i++) entries[i] = (r.ReadInt64(), r.ReadInt32());
            v.Restore(entries, overflowed);
        }
        foreach (var (name, module, optimizer) in trainer.DenseParts)
        {
            reader.LoadStateDict($"{name}/model", module);
            reader.LoadOptimizer($"{name}/optimizer", (OptimizerHelper)optimizer);
        }
        state.Epoch = reader.GetMetadata<int>("epoch");
        state.Batches = reader.GetMetadata<long>("batches");
        state.Samples = reader.GetMetadata<long>("samples");
        state.MalformedSkipped = reader.Metadata.ContainsKey("malformed_skipped") ? reader.GetMetadata<long>("malformed_skipped") : 0;
        trainer.RestoreSteps(reader.GetMetadata<long>("trainer_steps"));
        state.Position = reader.Metadata.ContainsKey("position_byte")
            ? new ReaderPosition(reader.GetMetadata<long>("position_byte"), reader.GetMetadata<long>("position_line"), reader.GetMetadata<long>("position_record"))
            : null;
    }
}
