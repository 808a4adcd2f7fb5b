using System.Text.Json.Nodes;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Streaming.Training;

/// <summary>
/// The stream-specific part of a checkpoint, kept in the manifest's metadata next to the model:
/// <code>
///   "stream": { "topic": "impressions", "offsets": { "0": 4096, "1": 2048 },      first untrained offset per partition
///               "trained": 6144, "dead_lettered": 3, "lost": 0, "batches": 3 }
///   entry stream/record-ids  (optional) i64 ids of every trained record of this model's lineage, in training order
/// </code>
/// </summary>
internal sealed class StreamState
{
    public const string MetadataKey = "stream";
    public const string RecordIdsEntry = "stream/record-ids";

    public string Topic { get; set; } = "";
    public SortedDictionary<int, long> Offsets { get; } = [];
    public long Trained { get; set; }
    public long DeadLettered { get; set; }
    public long Lost { get; set; }
    public List<long>? RecordIds { get; set; }

    public long Accounted => Trained + DeadLettered + Lost;

    public void WriteTo(CheckpointWriter writer)
    {
        var offsets = new JsonObject();
        foreach (var (p, o) in Offsets) offsets[p.ToString(System.Globalization.CultureInfo.InvariantCulture)] = o;
        writer.Metadata[MetadataKey] = new JsonObject
        {
            ["topic"] = Topic,
            ["offsets"] = offsets,
            ["trained"] = Trained,
            ["dead_lettered"] = DeadLettered,
            ["lost"] = Lost,
        };
        if (RecordIds is not null)
        {
            writer.AddEntry(RecordIdsEntry, stream =>
            {
                using var w = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                w.Write(RecordIds.Count);
                foreach (long id in RecordIds) w.Write(id);
            });
        }
    }

    public static StreamState ReadFrom(CheckpointReader reader, bool trackIds)
    {
        var state = new StreamState();
        if (reader.Metadata[MetadataKey] is not JsonObject stream)
            throw new CheckpointException(CheckpointProblem.BadManifest, reader.Path, "the checkpoint has no 'stream' metadata: it was not written by the stream trainer.");
        state.Topic = (string?)stream["topic"] ?? "";
        foreach (var (p, o) in (JsonObject)stream["offsets"]!) state.Offsets[int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)] = (long)o!;
        state.Trained = (long)stream["trained"]!;
        state.DeadLettered = (long)stream["dead_lettered"]!;
        state.Lost = (long)stream["lost"]!;
        if (trackIds)
        {
            state.RecordIds = [];
            if (reader.Contains(RecordIdsEntry))
            {
                using var r = new BinaryReader(reader.OpenRead(RecordIdsEntry));
                int n = r.ReadInt32();
                for (int i = 0; i < n; i++) state.RecordIds.Add(r.ReadInt64());
            }
        }
        return state;
    }

    /// <summary>Reads only the record ids of a checkpoint (tests, audits).</summary>
    public static IReadOnlyList<long> RecordIdsOf(CheckpointReader reader) => ReadFrom(reader, trackIds: true).RecordIds!;
}
