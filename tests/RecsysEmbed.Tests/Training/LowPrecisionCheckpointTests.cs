using System.Runtime.InteropServices;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Tests.Tables;
using RecsysEmbed.Training.Checkpoints;

namespace RecsysEmbed.Tests.Training;

/// <summary>
/// Checkpoints of low-precision (lp) tables: the stored fp16 / int8 bytes, int8 scales, optimizer state and step
/// count come back bit for bit, so training continues exactly as without the checkpoint (the rounding is seeded by
/// the step); a table of another shape, precision, hashing or optimizer is refused naming the field.
/// </summary>
public sealed class LowPrecisionCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recsys-lp-ckpt-tests", Guid.NewGuid().ToString("N"));

    // 64-byte chunks: 37 rows of 6 int8 codes (or 12 fp16 bytes) are streamed in many pieces with a partial last one.
    private static readonly CheckpointWriterOptions Options = new() { ChunkBytes = 64, KeepLast = 3 };

    private const long Rows = 37;
    private const int Dim = 6;

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    public static TheoryData<RowPrecision, bool, SparseOptimizerKind> Cases()
    {
        var data = new TheoryData<RowPrecision, bool, SparseOptimizerKind>();
        foreach (var precision in new[] { RowPrecision.Fp16, RowPrecision.Int8 })
            foreach (bool hashed in new[] { false, true })
                foreach (var optimizer in new[] { SparseOptimizerKind.RowWiseAdagrad, SparseOptimizerKind.Adam })
                    data.Add(precision, hashed, optimizer);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void RoundTrip_RestoresStoredBytesStateAndStepCount_AndTrainingContinuesIdentically(RowPrecision precision, bool hashed, SparseOptimizerKind optimizer)
    {
        var settings = Settings(optimizer);
        using var original = Create(precision, hashed, settings);
        var rng = new Random(21);
        for (int s = 0; s < 3; s++) TrainStep(original, rng);
        Assert.Equal(3, original.StepCount);
        var saved = Snapshot.Of(original);

        using (var writer = new CheckpointWriter(_dir, 3, Options))
        {
            writer.AddTable(original);
            writer.Commit();
        }

        using var restored = Create(precision, hashed, settings, initSeed: 99);
        Assert.NotEqual(saved.Rows, Snapshot.Of(restored).Rows); // a fresh table differs, so equality below means restored
        CheckpointReader.OpenLatest(_dir).RestoreTable(restored);
        Snapshot.Of(restored).AssertEqual(saved);

        // Same batches on both: Adam's t and the rounding seed continue from the restored step count.
        var a = new Random(77);
        var b = new Random(77);
        for (int s = 0; s < 2; s++)
        {
            TrainStep(original, a);
            TrainStep(restored, b);
        }
        Assert.Equal(5, restored.StepCount);
        Snapshot.Of(restored).AssertEqual(Snapshot.Of(original));
    }

    [Fact]
    public void AddTable_WritesOneLpEntryWithTheStoredBytesAndMetadata()
    {
        using var table = Create(RowPrecision.Int8, hashed: true, Settings(SparseOptimizerKind.Adam));
        TrainStep(table, new Random(4));

        using var writer = new CheckpointWriter(_dir, 1, Options);
        writer.AddTable(table);
        var entry = Assert.Single(writer.Entries);
        Assert.Equal("tables/lp", entry.Name);
        Assert.Equal(CheckpointEntryKind.LowPrecisionTable, entry.Kind);
        Assert.Equal(Rows * Dim + Rows * sizeof(float) + Rows * 2 * Dim * sizeof(float), entry.Length); // codes, scales, Adam m and v
        Assert.Equal(Rows, entry.Metadata["rows"]!.GetValue<long>());
        Assert.Equal(Dim, entry.Metadata["dim"]!.GetValue<int>());
        Assert.Equal("Int8", entry.Metadata["precision"]!.GetValue<string>());
        Assert.True(entry.Metadata["hashed"]!.GetValue<bool>());
        Assert.Equal(3UL, entry.Metadata["seed"]!.GetValue<ulong>());
        Assert.Equal(2 * Dim, entry.Metadata["stateWidth"]!.GetValue<int>());
        Assert.Equal("Adam", entry.Metadata["optimizer"]!.GetValue<string>());
        Assert.Equal(1, entry.Metadata["stepCount"]!.GetValue<long>());
        writer.Commit();

        // The file is the three buffers back to back.
        byte[] file = CheckpointReader.OpenLatest(_dir).ReadBytes("tables/lp");
        var snapshot = Snapshot.Of(table);
        Assert.Equal([.. snapshot.Rows, .. snapshot.Scales, .. snapshot.State], file);
    }

    public static TheoryData<string> MismatchedFields() => ["rows", "dim", "precision", "hashed", "optimizer"];

    [Theory]
    [MemberData(nameof(MismatchedFields))]
    public void Restore_IntoATableThatDiffers_IsRefusedNamingTheEntryAndTheField_AndLeavesTheTableUntouched(string field)
    {
        var adam = Settings(SparseOptimizerKind.Adam);
        using var original = Create(RowPrecision.Int8, hashed: false, adam);
        TrainStep(original, new Random(5));
        Commit(original);

        using var other = field switch
        {
            "rows" => new LowPrecisionTable("lp", [new TableFeature("f0")], Rows + 1, Dim, RowPrecision.Int8, adam, seed: 3),
            "dim" => new LowPrecisionTable("lp", [new TableFeature("f0")], Rows, Dim - 1, RowPrecision.Int8, adam, seed: 3),
            "precision" => Create(RowPrecision.Fp16, hashed: false, adam),
            "hashed" => Create(RowPrecision.Int8, hashed: true, adam),
            _ => Create(RowPrecision.Int8, hashed: false, Settings(SparseOptimizerKind.RowWiseAdagrad)),
        };
        var before = Snapshot.Of(other);

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir).RestoreTable(other));
        Assert.Equal(CheckpointProblem.ShapeMismatch, e.Problem);
        Assert.Contains("entry 'tables/lp'", e.Message);
        Assert.Contains($": {field} is ", e.Message);
        Snapshot.Of(other).AssertEqual(before);
    }

    [Fact]
    public void Restore_HashedWithAnotherSeed_IsRefusedBecauseIdsWouldLandInOtherRows()
    {
        var adam = Settings(SparseOptimizerKind.Adam);
        using var original = Create(RowPrecision.Fp16, hashed: true, adam);
        Commit(original);
        using var other = new LowPrecisionTable("lp", [new TableFeature("f0")], Rows, Dim, RowPrecision.Fp16, adam, hashed: true, seed: 4);

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir).RestoreTable(other));
        Assert.Contains("seed is 3 in the checkpoint but 4 in table 'lp'", e.Message);
    }

    [Fact]
    public void Restore_WeightsOnly_IgnoresTheOptimizerAndKeepsAFreshState()
    {
        using var original = Create(RowPrecision.Int8, hashed: false, Settings(SparseOptimizerKind.Adam));
        for (int s = 0; s < 2; s++) TrainStep(original, new Random(s));
        Commit(original);
        var adagrad = Settings(SparseOptimizerKind.RowWiseAdagrad);
        using var target = Create(RowPrecision.Int8, hashed: false, adagrad, initSeed: 99);
        using var untouched = Create(RowPrecision.Int8, hashed: false, adagrad, initSeed: 99);
        var reader = CheckpointReader.OpenLatest(_dir);

        Assert.Throws<CheckpointException>(() => reader.RestoreTable(target)); // the Adam state does not fit
        reader.RestoreTable(target, includeOptimizerState: false);

        var restored = Snapshot.Of(target);
        var saved = Snapshot.Of(original);
        Assert.Equal(saved.Rows, restored.Rows);
        Assert.Equal(saved.Scales, restored.Scales);
        Assert.Equal(Snapshot.Of(untouched).State, restored.State);
        Assert.Equal(0, target.StepCount);
    }

    [Fact]
    public void StorageViews_RefuseRangesOutsideTheTable()
    {
        using var fp16 = Create(RowPrecision.Fp16, hashed: false, Settings(SparseOptimizerKind.Adam));
        Assert.Throws<ArgumentOutOfRangeException>(() => fp16.StoredRows(Rows - 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => fp16.StateRows(-1, 1));
        Assert.Equal(2 * Dim * sizeof(ushort), fp16.StoredRows(Rows - 2, 2).Length);
        var e = Assert.Throws<InvalidOperationException>(() => fp16.RowScales(0, 1));
        Assert.Contains("Fp16", e.Message);
    }

    // ---- helpers ----

    private static SparseOptimizerSettings Settings(SparseOptimizerKind kind) =>
        kind == SparseOptimizerKind.Adam ? SparseOptimizerSettings.Adam(0.05f) : SparseOptimizerSettings.RowWiseAdagrad(0.1f);

    private static LowPrecisionTable Create(RowPrecision precision, bool hashed, SparseOptimizerSettings optimizer, ulong initSeed = 5) =>
        new("lp", [new TableFeature("f0")], Rows, Dim, precision, optimizer, hashed, seed: 3, init: new TableInit(0.5f, Seed: initSeed));

    private static readonly long[] HashedIds = [0, 5, 17, 1L << 40, 123_456_789, 99, 7, 3_000_000_000, 41, 1_000_003];

    /// <summary>One backward step on random bags (ids repeat within and across bags) with random gradients.</summary>
    private static void TrainStep(LowPrecisionTable table, Random rng)
    {
        long[] pool = table.Hashed ? HashedIds : Enumerable.Range(0, (int)table.Rows).Select(i => (long)i).ToArray();
        var input = BagInput.Random(rng, pool, weighted: false);
        table.Backward(0, input.View(), TableCases.RandomArray(rng, input.BagCount * table.Dim));
    }

    private void Commit(LowPrecisionTable table)
    {
        using var writer = new CheckpointWriter(_dir, 1, Options);
        writer.AddTable(table);
        writer.Commit();
    }

    /// <summary>Copies of a table's stored buffers, compared bit for bit.</summary>
    private sealed record Snapshot(byte[] Rows, byte[] Scales, byte[] State, long StepCount)
    {
        public static Snapshot Of(LowPrecisionTable t)
        {
            int rows = checked((int)t.Rows);
            return new Snapshot(
                t.StoredRows(0, rows).ToArray(),
                t.Precision == RowPrecision.Int8 ? MemoryMarshal.AsBytes(t.RowScales(0, rows)).ToArray() : [],
                MemoryMarshal.AsBytes(t.StateRows(0, rows)).ToArray(),
                t.StepCount);
        }

        public void AssertEqual(Snapshot expected)
        {
            Assert.Equal(expected.Rows, Rows);
            Assert.Equal(expected.Scales, Scales);
            Assert.Equal(expected.State, State);
            Assert.Equal(expected.StepCount, StepCount);
        }
    }
}
