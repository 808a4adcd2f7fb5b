using RecsysEmbed.Core.Hashing;
using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Tests.Data;

public class CtrBatchBuilderTests
{
    private static readonly DatasetSchema Schema = new("y", ["d0", "d1"], ["a", "b"]);

    [Fact]
    public void Build_PacksLabelsDenseRowMajorPositionsAndSparse()
    {
        var builder = new CtrBatchBuilder(Schema);
        var row = builder.BeginSample(1f, 10);
        row[0] = 1.5f;
        row[1] = -2f;
        builder.Sparse.AddString(0, "x");
        builder.Sparse.AddString(0, "y");
        builder.EndSample();
        row = builder.BeginSample(0f, 12);
        row[1] = 4f;
        builder.Sparse.AddInt64(1, 9);
        builder.EndSample();

        var batch = builder.Build();
        Assert.Equal(2, batch.BatchSize);
        Assert.Equal([1f, 0f], batch.Labels.ToArray());
        Assert.Equal([1.5f, -2f, 0f, 4f], batch.Dense.ToArray());
        Assert.Equal([0f, 4f], batch.DenseRow(1).ToArray());
        Assert.Equal([10L, 12L], batch.SourcePositions.ToArray());
        Assert.Equal([new IdHasher("a").HashString("x"), new IdHasher("a").HashString("y")], batch.Sparse.Feature("a").Ids.ToArray());
        Assert.Equal(0, batch.Sparse.Feature("b").BagLength(0));
        Assert.Equal([new IdHasher("b").HashInt64(9)], batch.Sparse.Feature("b").Ids.ToArray());
        Assert.Equal(0, builder.SampleCount);
    }

    [Fact]
    public void Build_WithReuse_ReturnsTheSameObject_AndClearsStaleDense()
    {
        var builder = new CtrBatchBuilder(Schema);
        for (int i = 0; i < 5; i++)
        {
            var row = builder.BeginSample(1f, i);
            row.Fill(9f);
            builder.EndSample();
        }
        var batch = builder.Build();
        builder.BeginSample(0f, 99);
        builder.EndSample();
        var again = builder.Build(batch);
        Assert.Same(batch, again);
        Assert.Equal(1, again.BatchSize);
        Assert.Equal([0f, 0f], again.Dense.ToArray());
        Assert.Equal([99L], again.SourcePositions.ToArray());
    }

    [Fact]
    public void Misuse_IsReported()
    {
        var builder = new CtrBatchBuilder(Schema);
        Assert.Throws<InvalidOperationException>(() => builder.EndSample());
        builder.BeginSample(1f, 0);
        Assert.Throws<InvalidOperationException>(() => builder.BeginSample(1f, 1));
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Throws<ArgumentOutOfRangeException>(() => new CtrBatchBuilder(Schema).BeginSample(float.NaN, 0));
        var other = new CtrBatchBuilder(new DatasetSchema("y", [], ["a"])).Build();
        builder.EndSample();
        Assert.Throws<ArgumentException>(() => builder.Build(other));
    }

    [Fact]
    public void SteadyState_BuildingIntoAReusedBatch_AllocatesNothingPerSample()
    {
        var builder = new CtrBatchBuilder(Schema);
        CtrBatch? batch = null;
        void Fill()
        {
            for (int i = 0; i < 256; i++)
            {
                var row = builder.BeginSample(i % 2, i);
                row[0] = i;
                builder.Sparse.AddInt64(0, i);
                builder.Sparse.AddInt64(1, i * 7);
                builder.EndSample();
            }
            batch = builder.Build(batch);
        }
        Fill();
        Fill();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int k = 0; k < 10; k++) Fill();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
