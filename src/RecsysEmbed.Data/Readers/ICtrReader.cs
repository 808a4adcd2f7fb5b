using System.Diagnostics.CodeAnalysis;
using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// A streaming source of CTR samples. Reads append to a caller-owned <see cref="CtrBatchBuilder"/>; the file is
/// never loaded whole. <see cref="Position"/> is a checkpoint: a reader constructed at it continues with the same
/// records.
/// <code>
///   using var reader = new CriteoReader("day_0.tsv");
///   var builder = reader.CreateBuilder();
///   CtrBatch? batch = null;
///   while (reader.TryReadBatch(builder, 4096, out batch, reuse: batch)) { train(batch); checkpoint(reader.Position); }
///   log(reader.Report.Summary());
/// </code>
/// </summary>
public interface ICtrReader : IDisposable
{
    DatasetSchema Schema { get; }

    /// <summary>File name used in error messages and stamped on batches.</summary>
    string SourceName { get; }

    /// <summary>Where the next read starts.</summary>
    ReaderPosition Position { get; }

    /// <summary>Skipped malformed records and blank lines so far.</summary>
    MalformedReport Report { get; }

    /// <summary>
    /// Appends up to <paramref name="maxSamples"/> samples to <paramref name="builder"/> and returns how many;
    /// 0 means the end of the source. Malformed records are skipped (and counted) or thrown per the policy.
    /// </summary>
    int ReadSamples(CtrBatchBuilder builder, int maxSamples);
}

public static class CtrReaderExtensions
{
    /// <summary>A builder for this reader's schema.</summary>
    public static CtrBatchBuilder CreateBuilder(this ICtrReader reader, ulong hashSeed = IdHasher.DefaultSeed) =>
        new(reader.Schema, hashSeed);

    /// <summary>
    /// Reads up to <paramref name="batchSize"/> samples into a batch (the last one may be shorter). False at the
    /// end. Passing the previous batch as <paramref name="reuse"/> recycles its buffers.
    /// </summary>
    public static bool TryReadBatch(this ICtrReader reader, CtrBatchBuilder builder, int batchSize,
        [NotNullWhen(true)] out CtrBatch? batch, CtrBatch? reuse = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (builder.SampleCount != 0)
            throw new InvalidOperationException($"the builder already holds {builder.SampleCount} samples; build or discard them first.");
        int n = reader.ReadSamples(builder, batchSize);
        if (n == 0)
        {
            batch = null;
            return false;
        }
        batch = builder.Build(reuse);
        return true;
    }

    /// <summary>
    /// Streams the rest of the source as batches. With <paramref name="reuseBuffers"/> every yielded batch is the
    /// same object, overwritten by the next one.
    /// </summary>
    public static IEnumerable<CtrBatch> ReadBatches(this ICtrReader reader, int batchSize, bool reuseBuffers = false,
        ulong hashSeed = IdHasher.DefaultSeed)
    {
        var builder = reader.CreateBuilder(hashSeed);
        CtrBatch? previous = null;
        while (reader.TryReadBatch(builder, batchSize, out var batch, reuseBuffers ? previous : null))
        {
            previous = batch;
            yield return batch;
        }
    }
}
