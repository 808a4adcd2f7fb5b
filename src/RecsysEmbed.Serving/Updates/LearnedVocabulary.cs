using System.Buffers.Binary;
using System.Text;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Core.Updates;
using RecsysEmbed.Serving.Model;

namespace RecsysEmbed.Serving.Updates;

/// <summary>What applying one vocabulary record did.</summary>
public readonly record struct VocabularyApplyResult(int Added, int Known, int Conflicts);

/// <summary>
/// The vocabulary entries the service learned from the update topic since its training checkpoint: it assigns them
/// into the model's feature vocabularies and remembers them, so that a store checkpoint can carry them (with the
/// offsets they came from) and a recovered store maps the same values to the same rows.
/// <code>
///   bytes : i32 features | per feature: u16 nameLen | name (UTF-8) | i32 count | count x (i64 id | i32 index)
/// </code>
/// Not thread-safe: the applier calls it under its writer lock; lookups read the vocabularies concurrently.
/// </summary>
public sealed class LearnedVocabulary
{
    private readonly ServingModel _model;
    private readonly Dictionary<string, List<(long Id, int Index)>> _learned = new(StringComparer.Ordinal);

    public LearnedVocabulary(ServingModel model) => _model = model;

    /// <summary>Entries learned (added to a vocabulary) so far, over all features.</summary>
    public long Count { get; private set; }

    /// <summary>True when entries were learned since the last <see cref="Serialize"/>.</summary>
    public bool Dirty { get; private set; }

    /// <summary>
    /// Assigns every (id, index) of the record. Throws <see cref="InvalidDataException"/> (naming the field) for a
    /// feature without a vocabulary or indices beyond its capacity; nothing is assigned then.
    /// </summary>
    public VocabularyApplyResult Apply(in VocabularyUpdate update)
    {
        var vocabulary = VocabularyOf(update.Feature);
        long last = update.FirstIndex + update.Ids.Length - 1;
        if (last >= vocabulary.Capacity)
            throw new InvalidDataException($"vocabulary update: indices {update.FirstIndex}..{last} of feature '{update.Feature}' exceed its capacity ({vocabulary.Capacity} ids).");
        var ids = update.Ids.Span;
        int added = 0, known = 0, conflicts = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            switch (Assign(update.Feature, vocabulary, ids[i], (int)(update.FirstIndex + i)))
            {
                case VocabularyAssignment.Added: added++; break;
                case VocabularyAssignment.Known: known++; break;
                default: conflicts++; break;
            }
        }
        return new VocabularyApplyResult(added, known, conflicts);
    }

    private VocabularyAssignment Assign(string feature, IdVocabulary vocabulary, long id, int index)
    {
        var outcome = vocabulary.Assign(id, index);
        if (outcome == VocabularyAssignment.Added)
        {
            if (!_learned.TryGetValue(feature, out var list)) _learned[feature] = list = [];
            list.Add((id, index));
            Count++;
            Dirty = true;
        }
        return outcome;
    }

    private IdVocabulary VocabularyOf(string feature)
    {
        var binding = _model.Feature(feature)
            ?? throw new InvalidDataException($"vocabulary update: feature = '{feature}' is not a feature of this model.");
        return binding.Vocabulary
            ?? throw new InvalidDataException($"vocabulary update: feature = '{feature}' has no id vocabulary (its table '{binding.Addressing.TableName}' takes hashed ids).");
    }

    /// <summary>Every learned entry, for the store checkpoint; clears <see cref="Dirty"/>.</summary>
    public byte[] Serialize()
    {
        int size = sizeof(int);
        foreach (var (name, list) in _learned) size += 2 + Encoding.UTF8.GetByteCount(name) + sizeof(int) + list.Count * (sizeof(long) + sizeof(int));
        var blob = new byte[size];
        var span = blob.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, _learned.Count);
        int at = sizeof(int);
        foreach (var (name, list) in _learned)
        {
            int nameBytes = Encoding.UTF8.GetBytes(name, span[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], (ushort)nameBytes);
            at += 2 + nameBytes;
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], list.Count);
            at += sizeof(int);
            foreach (var (id, index) in list)
            {
                BinaryPrimitives.WriteInt64LittleEndian(span[at..], id);
                BinaryPrimitives.WriteInt32LittleEndian(span[(at + sizeof(long))..], index);
                at += sizeof(long) + sizeof(int);
            }
        }
        Dirty = false;
        return blob;
    }

    /// <summary>
    /// Assigns the entries of a recovered store checkpoint (bytes of <see cref="Serialize"/>) and learns them again, so
    /// the next checkpoint still carries them. Returns what was assigned (conflicts: the training checkpoint the service
    /// started from disagrees with the store).
    /// </summary>
    public VocabularyApplyResult Restore(ReadOnlySpan<byte> blob)
    {
        int added = 0, known = 0, conflicts = 0;
        int at = 0;
        int features = ReadInt32(blob, ref at, "features");
        for (int f = 0; f < features; f++)
        {
            if (blob.Length - at < 2) throw Truncated("feature name length", at, blob.Length);
            int nameBytes = BinaryPrimitives.ReadUInt16LittleEndian(blob[at..]);
            at += 2;
            if (blob.Length - at < nameBytes) throw Truncated("feature name", at, blob.Length);
            string name = Encoding.UTF8.GetString(blob.Slice(at, nameBytes));
            at += nameBytes;
            var vocabulary = VocabularyOf(name);
            int count = ReadInt32(blob, ref at, "count");
            if (count < 0 || (long)count * 12 > blob.Length - at) throw new InvalidDataException($"learned vocabulary: count = {count} for feature '{name}' does not fit the {blob.Length - at} bytes left.");
            for (int i = 0; i < count; i++)
            {
                long id = BinaryPrimitives.ReadInt64LittleEndian(blob[at..]);
                int index = BinaryPrimitives.ReadInt32LittleEndian(blob[(at + sizeof(long))..]);
                at += sizeof(long) + sizeof(int);
                if (id < 0 || index < 0 || index >= vocabulary.Capacity)
                    throw new InvalidDataException($"learned vocabulary: entry {i} of feature '{name}' (id = {id}, index = {index}) is outside the vocabulary (ids >= 0, indices < {vocabulary.Capacity}).");
                switch (Assign(name, vocabulary, id, index))
                {
                    case VocabularyAssignment.Added: added++; break;
                    case VocabularyAssignment.Known: known++; break;
                    default: conflicts++; break;
                }
            }
        }
        if (at != blob.Length) throw new InvalidDataException($"learned vocabulary: {blob.Length - at} bytes after the last feature.");
        Dirty = false;
        return new VocabularyApplyResult(added, known, conflicts);
    }

    private static int ReadInt32(ReadOnlySpan<byte> blob, ref int at, string field)
    {
        if (blob.Length - at < sizeof(int)) throw Truncated(field, at, blob.Length);
        int v = BinaryPrimitives.ReadInt32LittleEndian(blob[at..]);
        at += sizeof(int);
        return v;
    }

    private static InvalidDataException Truncated(string field, int at, int length) =>
        new($"learned vocabulary: {field} at byte {at} runs past the end ({length} bytes).");
}
