using System.Text;
using System.Text.Json.Nodes;
using RecsysEmbed.Core.Optimizers;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Training.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "recsys-ckpt-tests", Guid.NewGuid().ToString("N"));

    // 64-byte chunks so even these small matrices and tensors are streamed in many pieces.
    private static readonly CheckpointWriterOptions Options = new() { ChunkBytes = 64, KeepLast = 3 };

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    // ---- Round trips ----

    [Fact]
    public void Matrix_RoundTrip_WithAdamState_ResumesIdentically()
    {
        using var original = TrainedMatrix("user", rows: 37, dim: 5, SparseOptimizerSettings.Adam(0.05f), steps: 3, seed: 1);
        Assert.Equal(10, original.StateWidth);
        Assert.Contains(Enumerable.Range(0, 37), r => original.StateRow(r).ToArray().Any(v => v != 0)); // state is non-trivial

        using (var writer = new CheckpointWriter(_dir, 300, Options))
        {
            writer.AddMatrix("tables/user", original);
            writer.Commit();
        }

        using var restored = new EmbeddingMatrix("user", 37, 5, SparseOptimizerSettings.Adam(0.05f));
        var reader = CheckpointReader.OpenLatest(_dir);
        Assert.Equal(300, reader.Step);
        Assert.False(reader.FellBack);
        reader.RestoreMatrix("tables/user", restored);
        AssertSameMatrix(original, restored);

        // Resuming gives bit-identical training: the same update on both stays equal (Adam's t included).
        ApplyRandomStep(original, new Random(9));
        ApplyRandomStep(restored, new Random(9));
        AssertSameMatrix(original, restored);
    }

    [Fact]
    public void Table_RoundTrip_RestoresEveryMatrix()
    {
        var adam = SparseOptimizerSettings.Adam(0.02f);
        using var table = new QuotientRemainderTable("item", [new TableFeature("item")], 100, 4, [10, 10], QrCombine.Concat, adam);
        var rng = new Random(3);
        foreach (var m in table.Matrices) { ApplyRandomStep(m, rng); ApplyRandomStep(m, rng); }
        using (var writer = new CheckpointWriter(_dir, 7, Options))
        {
            writer.AddTable(table);
            writer.Commit();
        }

        using var fresh = new QuotientRemainderTable("item", [new TableFeature("item")], 100, 4, [10, 10], QrCombine.Concat, adam, init: new TableInit(Seed: 99));
        CheckpointReader.OpenLatest(_dir).RestoreTable(fresh);
        Assert.Equal(2, fresh.Matrices.Count);
        for (int i = 0; i < 2; i++) AssertSameMatrix(table.Matrices[i], fresh.Matrices[i]);
    }

    [Fact]
    public void Matrix_DimMismatch_IsRefusedAndLeavesMatrixUntouched()
    {
        using var original = TrainedMatrix("user", 16, 4, SparseOptimizerSettings.Adam(0.05f), 1, 2);
        Commit(5, w => w.AddMatrix("m", original));
        using var wrong = new EmbeddingMatrix("other", 16, 8, SparseOptimizerSettings.Adam(0.05f));
        wrong.InitUniform(0.1f, 4);
        float[] before = wrong.CopyWeights();

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir).RestoreMatrix("m", wrong));
        Assert.Equal(CheckpointProblem.ShapeMismatch, e.Problem);
        Assert.Contains("16 x 4", e.Message);
        Assert.Contains("16 x 8", e.Message);
        Assert.Equal(before, wrong.CopyWeights());
    }

    [Fact]
    public void Matrix_OtherOptimizer_IsRefused_UnlessWeightsOnly()
    {
        using var original = TrainedMatrix("user", 16, 4, SparseOptimizerSettings.Adam(0.05f), 2, 2);
        Commit(5, w => w.AddMatrix("m", original));
        using var adagrad = new EmbeddingMatrix("user", 16, 4, SparseOptimizerSettings.RowWiseAdagrad(0.1f));
        var reader = CheckpointReader.OpenLatest(_dir);

        var e = Assert.Throws<CheckpointException>(() => reader.RestoreMatrix("m", adagrad));
        Assert.Equal(CheckpointProblem.ShapeMismatch, e.Problem);
        Assert.Contains("Adam", e.Message);

        reader.RestoreMatrix("m", adagrad, includeOptimizerState: false);
        Assert.Equal(original.CopyWeights(), adagrad.CopyWeights());
        Assert.Equal(0, adagrad.StepCount);
    }

    private sealed record DataPosition(string File, long Offset, long Line);

    [Fact]
    public void BytesFloatsStreamsAndMetadata_RoundTrip()
    {
        byte[] blob = Encoding.UTF8.GetBytes("vocabulary v3");
        float[] dense = Enumerable.Range(0, 50).Select(i => i * 0.25f - 3).ToArray();
        byte[] streamed = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        Commit(42, w =>
        {
            w.AddBytes("vocab", blob, new JsonObject { ["version"] = 3 });
            w.AddFloats("dense/bias", dense);
            w.AddStream("raw", new MemoryStream(streamed));
            w.AddEntry("custom", s => s.Write([1, 2, 3]));
            w.SetMetadata("data", new DataPosition("part-00007.tsv", 123_456_789, 4242));
            w.Metadata["rng"] = new JsonObject { ["seed"] = 17, ["state"] = "0x9e3779b97f4a7c15" };
            w.Metadata["kafka"] = new JsonObject { ["clicks/0"] = 1200, ["clicks/1"] = 1187 };
            w.Metadata["configHash"] = "sha256:abc123";
        });

        var reader = CheckpointReader.OpenLatest(_dir);
        Assert.Equal(blob, reader.ReadBytes("vocab"));
        Assert.Equal(3, reader.Entry("vocab").Metadata["version"]!.GetValue<int>());
        Assert.Equal(dense, reader.ReadFloats("dense/bias"));
        Assert.Equal(streamed, reader.ReadBytes("raw"));
        using (var s = reader.OpenRead("custom")) Assert.Equal([1, 2, 3], ReadAll(s));
        Assert.Equal(new DataPosition("part-00007.tsv", 123_456_789, 4242), reader.GetMetadata<DataPosition>("data"));
        Assert.Equal(17, reader.Metadata["rng"]!["seed"]!.GetValue<int>());
        Assert.Equal(1187, reader.Metadata["kafka"]!["clicks/1"]!.GetValue<long>());
        Assert.Equal("sha256:abc123", reader.GetMetadata<string>("configHash"));
        Assert.Equal(CheckpointProblem.MissingEntry, Assert.Throws<CheckpointException>(() => reader.GetMetadata<int>("nope")).Problem);
        Assert.Equal(CheckpointProblem.MissingEntry, Assert.Throws<CheckpointException>(() => reader.ReadBytes("nope")).Problem);
        Assert.Equal(CheckpointProblem.MissingEntry, Assert.Throws<CheckpointException>(() => reader.ReadFloats("vocab")).Problem); // wrong kind
    }

    [Fact]
    public void Tensors_RoundTrip_AnyDtype_AndNonContiguous()
    {
        using var scope = NewDisposeScope();
        var floats = rand(3, 4, 5);
        var longs = arange(0, 24, dtype: ScalarType.Int64).reshape(2, 12);
        var transposed = rand(6, 7).t(); // non-contiguous view, saved in its logical row-major order
        var scalar = tensor(2.5);
        Commit(1, w =>
        {
            w.AddTensor("f", floats);
            w.AddTensor("l", longs);
            w.AddTensor("t", transposed);
            w.AddTensor("s", scalar);
        });

        var reader = CheckpointReader.OpenLatest(_dir);
        foreach (var (name, expected) in new[] { ("f", floats), ("l", longs), ("t", transposed), ("s", scalar) })
        {
            var actual = reader.ReadTensor(name);
            Assert.Equal(expected.dtype, actual.dtype);
            Assert.Equal(expected.shape, actual.shape);
            Assert.True(expected.eq(actual).all().item<bool>(), $"tensor {name} differs");
        }
    }

    [Fact]
    public void StateDictAndOptimizer_RoundTrip_ResumeMatchesUninterrupted()
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var model = Mlp();
        var adam = optim.Adam(model.parameters(), lr: 0.01);
        var x = rand(8, 4);
        var y = rand(8, 1);
        for (int i = 0; i < 3; i++) TrainStep(model, adam, x, y);
        Commit(3, w =>
        {
            w.AddStateDict("dense", model);
            w.AddOptimizer("dense_adam", adam);
        });

        manual_seed(2);
        var resumed = Mlp();
        var resumedAdam = optim.Adam(resumed.parameters(), lr: 0.01);
        var reader = CheckpointReader.OpenLatest(_dir);
        reader.LoadStateDict("dense", resumed);
        reader.LoadOptimizer("dense_adam", resumedAdam);
        AssertSameParameters(model, resumed);

        // Two more steps on each: equal only if Adam's moments and step counts came back too.
        for (int i = 0; i < 2; i++)
        {
            TrainStep(model, adam, x, y);
            TrainStep(resumed, resumedAdam, x, y);
        }
        AssertSameParameters(model, resumed);
    }

    [Fact]
    public void LoadStateDict_OtherArchitecture_IsRefused()
    {
        using var scope = NewDisposeScope();
        Commit(1, w => w.AddStateDict("dense", Mlp()));
        var wider = nn.Sequential(("fc1", nn.Linear(4, 5)), ("relu", nn.ReLU()), ("fc2", nn.Linear(5, 1)));
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir).LoadStateDict("dense", wider));
        Assert.Equal(CheckpointProblem.ShapeMismatch, e.Problem);
        Assert.Contains("fc1.weight", e.Message);
        var renamed = nn.Sequential(("a", nn.Linear(4, 3)), ("relu", nn.ReLU()), ("fc2", nn.Linear(3, 1)));
        e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir).LoadStateDict("dense", renamed));
        Assert.Contains("missing keys [a.weight, a.bias]", e.Message);
    }

    // ---- Damage is refused, naming the file ----

    [Fact]
    public void TruncatedFile_IsRefused_NamingTheFile()
    {
        string file = CommitMatrixCheckpoint(10);
        using (var f = new FileStream(file, FileMode.Open)) f.SetLength(f.Length - 3);

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.LengthMismatch, e.Problem);
        Assert.Equal(file, e.Path);
        Assert.Contains(Path.GetFileName(file), e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void FlippedByte_IsChecksumError()
    {
        string file = CommitMatrixCheckpoint(10);
        byte[] bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(file, bytes);

        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.ChecksumMismatch, e.Problem);
        Assert.Equal(file, e.Path);
        Assert.Contains("checksum mismatch", e.Message);
    }

    [Fact]
    public void MissingManifest_IsError()
    {
        CommitMatrixCheckpoint(10);
        string manifest = Path.Combine(_dir, "ckpt-10", "manifest.json");
        File.Delete(manifest);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.MissingFile, e.Problem);
        Assert.Equal(manifest, e.Path);
    }

    [Fact]
    public void MissingEntryFile_IsError()
    {
        string file = CommitMatrixCheckpoint(10);
        File.Delete(file);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(_dir, 10));
        Assert.Equal(CheckpointProblem.MissingFile, e.Problem);
        Assert.Equal(file, e.Path);
    }

    [Fact]
    public void BadManifestJson_IsError()
    {
        CommitMatrixCheckpoint(10);
        string manifest = Path.Combine(_dir, "ckpt-10", "manifest.json");
        File.WriteAllText(manifest, "{ \"format\": \"recsys-embed-checkpoint\", \"entries\": [ ");
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.BadManifest, e.Problem);
        Assert.Equal(manifest, e.Path);
        Assert.Contains("bad manifest JSON", e.Message);
    }

    [Fact]
    public void UnknownFormatVersion_IsError()
    {
        CommitMatrixCheckpoint(10);
        string manifest = Path.Combine(_dir, "ckpt-10", "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"formatVersion\": 1,", "\"formatVersion\": 7,"));
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.UnsupportedVersion, e.Problem);
        Assert.Contains("formatVersion 7", e.Message);
    }

    [Fact]
    public void EditedManifestMetadata_IsChecksumError()
    {
        Commit(10, w => w.Metadata["dataOffset"] = 123456);
        string manifest = Path.Combine(_dir, "ckpt-10", "manifest.json");
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("123456", "123457"));
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        Assert.Equal(CheckpointProblem.ChecksumMismatch, e.Problem);
        Assert.Equal(manifest, e.Path);
    }

    // ---- Crashes, atomic publication, fallback, retention ----

    [Fact]
    public void LeftoverTmpDirectory_IsIgnored_AndRemovedByNextCommit()
    {
        CommitMatrixCheckpoint(10);
        // A writer that crashed mid-way: a temp directory with a partial entry and no manifest.
        string crashed = Path.Combine(_dir, ".tmp-0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(crashed);
        File.WriteAllBytes(Path.Combine(crashed, "0000-tables_user.bin"), new byte[100]);

        var reader = CheckpointReader.OpenLatest(_dir);
        Assert.Equal(10, reader.Step);
        Assert.Equal([10L], CheckpointReader.ListSteps(_dir));

        CommitMatrixCheckpoint(20);
        Assert.False(Directory.Exists(crashed));
        Assert.Equal(20, CheckpointReader.OpenLatest(_dir).Step);
    }

    [Fact]
    public void CrashBeforeLatestUpdate_PreviousCheckpointStillLoads()
    {
        CommitMatrixCheckpoint(10);
        CommitMatrixCheckpoint(20);
        // As if the writer of step 20 died after renaming its directory into place but before replacing LATEST.
        File.WriteAllText(Path.Combine(_dir, "LATEST"), "ckpt-10\n");
        File.WriteAllText(Path.Combine(_dir, ".LATEST.tmp-deadbeef"), "ckpt-2"); // half-written temp LATEST

        Assert.Equal(10, CheckpointReader.OpenLatest(_dir).Step);
        Assert.Equal(10, CheckpointReader.OpenLatest(_dir, fallBackToPrevious: true).Step); // uncommitted newer steps are not candidates
    }

    [Fact]
    public void Latest_IsReplacedOnEveryCommit_WithNoTempFilesLeft()
    {
        foreach (long step in new long[] { 5, 10, 15 })
        {
            CommitMatrixCheckpoint(step);
            Assert.Equal($"ckpt-{step}\n", File.ReadAllText(Path.Combine(_dir, "LATEST")));
            Assert.Equal(step, CheckpointReader.OpenLatest(_dir).Step);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir, ".tmp-*"));
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir, ".LATEST.tmp-*"));
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir, ".old-*"));
        }
    }

    [Fact]
    public void FallBack_SkipsDamagedNewest_AndReportsIt()
    {
        CommitMatrixCheckpoint(10);
        CommitMatrixCheckpoint(20);
        string newest = CommitMatrixCheckpoint(30);
        using (var f = new FileStream(newest, FileMode.Open)) f.SetLength(8);

        Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir));
        var reader = CheckpointReader.OpenLatest(_dir, fallBackToPrevious: true);
        Assert.Equal(20, reader.Step);
        Assert.True(reader.FellBack);
        var refused = Assert.Single(reader.Refused);
        Assert.Equal(CheckpointProblem.LengthMismatch, refused.Problem);
        Assert.Equal(newest, refused.Path);
    }

    [Fact]
    public void FallBack_WhenEveryCheckpointIsDamaged_ListsThemAll()
    {
        string a = CommitMatrixCheckpoint(10);
        string b = CommitMatrixCheckpoint(20);
        File.Delete(a);
        File.Delete(b);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir, fallBackToPrevious: true));
        Assert.Equal(CheckpointProblem.NotFound, e.Problem);
        Assert.Contains("ckpt-10", e.Message);
        Assert.Contains("ckpt-20", e.Message);
    }

    [Fact]
    public void Retention_KeepsLastK()
    {
        var keepTwo = Options with { KeepLast = 2 };
        var deleted = new List<long>();
        foreach (long step in new long[] { 100, 200, 300, 400 })
        {
            using var writer = new CheckpointWriter(_dir, step, keepTwo);
            writer.AddBytes("x", [1, 2, 3]);
            deleted.AddRange(writer.Commit().DeletedSteps);
        }
        Assert.Equal([300L, 400L], CheckpointReader.ListSteps(_dir));
        Assert.Equal([100L, 200L], deleted);
        Assert.Equal(400, CheckpointReader.OpenLatest(_dir).Step);
    }

    [Fact]
    public void RewoundRun_ReplacesItsStep_AndLeavesHigherStepsAlone()
    {
        Commit(10, w => w.AddBytes("x", [1]));
        Commit(20, w => w.AddBytes("x", [2]));
        Commit(30, w => w.AddBytes("x", [3]));
        // Resumed from step 10 and reached step 20 again.
        Commit(20, w => w.AddBytes("x", [22]));

        var reader = CheckpointReader.OpenLatest(_dir);
        Assert.Equal(20, reader.Step);
        Assert.Equal([22], reader.ReadBytes("x"));
        Assert.Equal([10L, 20L, 30L], CheckpointReader.ListSteps(_dir));
    }

    [Fact]
    public void DisposeWithoutCommit_PublishesNothing()
    {
        CommitMatrixCheckpoint(10);
        using (var writer = new CheckpointWriter(_dir, 20, Options))
            writer.AddBytes("x", [1, 2, 3]);
        Assert.Equal([10L], CheckpointReader.ListSteps(_dir));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir, ".tmp-*"));
        Assert.Equal(10, CheckpointReader.OpenLatest(_dir).Step);
    }

    [Fact]
    public void SecondWriter_IsRefusedWhileTheFirstHoldsTheLock()
    {
        using var first = new CheckpointWriter(_dir, 1, Options);
        var e = Assert.Throws<CheckpointException>(() => new CheckpointWriter(_dir, 2, Options));
        Assert.Equal(CheckpointProblem.WriteFailed, e.Problem);
        first.Commit();
        using var next = new CheckpointWriter(_dir, 2, Options); // lock released by the commit
    }

    [Fact]
    public void EmptyDirectory_HasNoCheckpoint()
    {
        Assert.Null(CheckpointReader.TryOpenLatest(_dir));
        Directory.CreateDirectory(_dir);
        Assert.Null(CheckpointReader.TryOpenLatest(_dir, fallBackToPrevious: true));
        Assert.Equal(CheckpointProblem.NotFound, Assert.Throws<CheckpointException>(() => CheckpointReader.OpenLatest(_dir)).Problem);
        Assert.Equal(CheckpointProblem.NotFound, Assert.Throws<CheckpointException>(() => CheckpointReader.Open(_dir, 5)).Problem);
    }

    [Fact]
    public void Writer_RejectsDuplicateNames_AndDropsFailedEntries()
    {
        using var writer = new CheckpointWriter(_dir, 1, Options);
        writer.AddBytes("x", [1]);
        Assert.Throws<ArgumentException>(() => writer.AddBytes("x", [2]));
        Assert.Throws<InvalidOperationException>(() => writer.AddEntry("y", _ => throw new InvalidOperationException("serializer failed")));
        writer.AddBytes("y", [3]); // the failed entry left no trace, so its name is free
        writer.Commit();
        var reader = CheckpointReader.OpenLatest(_dir);
        Assert.Equal(["x", "y"], reader.Entries.Select(e => e.Name));
        Assert.Equal([3], reader.ReadBytes("y"));
    }

    // ---- Helpers ----

    private void Commit(long step, Action<CheckpointWriter> fill)
    {
        using var writer = new CheckpointWriter(_dir, step, Options);
        fill(writer);
        writer.Commit();
    }

    /// <summary>Commits a checkpoint with one trained matrix and returns the full path of its data file.</summary>
    private string CommitMatrixCheckpoint(long step)
    {
        using var m = TrainedMatrix("user", 12, 4, SparseOptimizerSettings.Adam(0.05f), 2, (int)step);
        using var writer = new CheckpointWriter(_dir, step, Options);
        writer.AddMatrix("tables/user", m);
        string file = writer.Entries.Single().File;
        var info = writer.Commit();
        return Path.Combine(info.Path, file);
    }

    private static EmbeddingMatrix TrainedMatrix(string name, long rows, int dim, SparseOptimizerSettings optimizer, int steps, int seed)
    {
        var m = new EmbeddingMatrix(name, rows, dim, optimizer);
        m.InitUniform(0.1f, (ulong)seed);
        var rng = new Random(seed);
        for (int s = 0; s < steps; s++) ApplyRandomStep(m, rng);
        return m;
    }

    /// <summary>One optimizer step on a random half of the rows (distinct, ascending) with random gradients.</summary>
    private static void ApplyRandomStep(EmbeddingMatrix m, Random rng)
    {
        long[] rows = Enumerable.Range(0, (int)m.Rows).Where(_ => rng.Next(2) == 0).Select(r => (long)r).ToArray();
        float[] grads = Enumerable.Range(0, rows.Length * m.Dim).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        m.ApplyRowGradients(rows, grads);
    }

    private static void AssertSameMatrix(EmbeddingMatrix expected, EmbeddingMatrix actual)
    {
        Assert.Equal(expected.CopyWeights(), actual.CopyWeights());
        for (long r = 0; r < expected.Rows; r++)
            Assert.Equal(expected.StateRow(r).ToArray(), actual.StateRow(r).ToArray());
        Assert.Equal(expected.StepCount, actual.StepCount);
    }

    private static nn.Module<Tensor, Tensor> Mlp() =>
        nn.Sequential(("fc1", nn.Linear(4, 3)), ("relu", nn.ReLU()), ("fc2", nn.Linear(3, 1)));

    private static void TrainStep(nn.Module<Tensor, Tensor> model, optim.Optimizer optimizer, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = nn.functional.mse_loss(model.call(x), y);
        loss.backward();
        optimizer.step();
    }

    private static void AssertSameParameters(nn.Module expected, nn.Module actual)
    {
        var a = expected.state_dict();
        var b = actual.state_dict();
        Assert.Equal(a.Keys.OrderBy(k => k), b.Keys.OrderBy(k => k));
        foreach (var key in a.Keys)
            Assert.Equal(a[key].data<float>().ToArray(), b[key].data<float>().ToArray());
    }

    private static byte[] ReadAll(Stream s)
    {
        using var copy = new MemoryStream();
        s.CopyTo(copy);
        return copy.ToArray();
    }
}
