using RecsysEmbed.Core.Batching;
using RecsysEmbed.Core.Config;
using RecsysEmbed.Core.Config.Planning;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Core.Tables.Addressing;

namespace RecsysEmbed.Tests.Tables;

/// <summary>
/// Addressing + combining the rows read back must give the family's own output on the same weights: exactly for
/// one id (the table's Lookup), and to fp32 rounding for pooled bags (the table pools per matrix first).
/// </summary>
public class RowAddressingTests
{
    /// <summary>One config per family and combiner; ids stay below each feature's cardinality (50).</summary>
    public static TheoryData<string> Tables => new()
    {
        "{name: t, family: full, features: [a, b]}",
        "{name: t, family: hash, features: [a, b], buckets: 37, hashes: 3, combine: sum}",
        "{name: t, family: hash, features: [a, b], buckets: 37, hashes: 2, combine: concat}",
        "{name: t, family: qr, features: [a, b], collisions: 4, combine: add}",
        "{name: t, family: qr, features: [a, b], partitions: 3, combine: mult}",
        "{name: t, family: qr, features: [a, b], collisions: 5, combine: concat}",
        "{name: t, family: md, features: [a], hot_rows: 10, hot_dim: 8, tail_dim: 4}",
        "{name: t, family: md, features: [a], dim: 4}",
        "{name: t, family: md, features: [a], hot_rows: 10, hot_dim: 8, tail_dim: 4, tail_buckets: 7}",
        "{name: t, family: ue, features: [{name: a, chunks: 2}, b], buckets: 41}",
    };

    private static EmbeddingPlan Plan(string table) => EmbeddingPlan.Create(ModelConfig.Parse($"""
        name: addr
        embedding_dim: 8
        hash_seed: 5
        sparse_features:
          - {"{"}name: a, cardinality: 50{"}"}
          - {"{"}name: b, cardinality: 50, pooling: mean{"}"}
        tables:
          - {table}
        {(table.Contains("family: md") ? "  - {name: other, family: full, features: [b]}" : "")}
        """));

    [Theory]
    [MemberData(nameof(Tables))]
    public void Combined_rows_equal_the_tables_lookup_exactly(string tableYaml)
    {
        var plan = Plan(tableYaml).Tables[0];
        using var table = plan.Build();
        var addressing = RowAddressing.For(plan);
        Assert.Equal(table.Matrices.Select(m => (m.Name, m.Rows, m.Dim)), addressing.Matrices.Select(m => (m.Name, m.Rows, m.Dim)));
        var random = new Random(11);
        long[] ids = Enumerable.Range(0, 200).Select(_ => (long)random.Next(0, 50)).Concat([0, 49, 1L << 40]).ToArray();
        for (int f = 0; f < table.Features.Count; f++)
        {
            Assert.Equal(f, addressing.FeatureIndex(table.Features[f].Name));
            if (plan.Family == "full") ids = ids.Where(i => i < 50).ToArray();
            int dim = table.Features[f].OutputDim;
            var expected = new float[ids.Length * dim];
            table.Lookup(f, ids, expected);
            var actual = new float[dim];
            for (int i = 0; i < ids.Length; i++)
            {
                CombineFromMatrices(table, addressing, f, ids[i], actual);
                Assert.Equal(expected.AsSpan(i * dim, dim).ToArray(), actual);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public void Pooled_bags_match_the_tables_forward(string tableYaml)
    {
        var plan = Plan(tableYaml).Tables[0];
        using var table = plan.Build();
        var addressing = RowAddressing.For(plan);
        var random = new Random(12);
        var builder = new KeyedJaggedBatchBuilder(table.Features.Select(s => s.Name).ToArray());
        const int batch = 16;
        var bags = new List<long[]>[table.Features.Count];
        for (int f = 0; f < bags.Length; f++) bags[f] = [];
        for (int b = 0; b < batch; b++)
        {
            for (int f = 0; f < table.Features.Count; f++)
            {
                var bag = Enumerable.Range(0, random.Next(0, 5)).Select(_ => (long)random.Next(0, 50)).ToArray();
                foreach (long id in bag) builder.AddId(f, id);
                bags[f].Add(bag);
            }
            builder.EndSample();
        }
        var kjt = builder.Build();
        var expected = new float[batch * table.OutputWidth];
        table.Forward(kjt, expected);
        var vector = new float[table.OutputWidth];
        for (int f = 0; f < table.Features.Count; f++)
        {
            var slot = table.Features[f];
            for (int b = 0; b < batch; b++)
            {
                var pooled = new float[slot.OutputDim];
                var bag = bags[f][b];
                foreach (long id in bag)
                {
                    CombineFromMatrices(table, addressing, f, id, vector);
                    float scale = slot.Pooling == PoolingMode.Mean ? 1f / bag.Length : 1f;
                    for (int d = 0; d < slot.OutputDim; d++) pooled[d] += scale * vector[d];
                }
                for (int d = 0; d < slot.OutputDim; d++)
                    Assert.Equal(expected[b * table.OutputWidth + slot.Column + d], pooled[d], 1e-5f);
            }
        }
    }

    [Fact]
    public void Full_addressing_refuses_an_id_outside_the_table()
    {
        var addressing = RowAddressing.For(Plan("{name: t, family: full, features: [a, b]}").Tables[0]);
        var rows = new PhysicalRow[1];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => addressing.Resolve(0, 50, rows));
        Assert.Contains("50", e.Message);
    }

    /// <summary>Reads the rows the addressing names straight from the table's matrices and combines them.</summary>
    private static void CombineFromMatrices(IEmbeddingTable table, IRowAddressing addressing, int feature, long id, Span<float> output)
    {
        var rows = new PhysicalRow[addressing.MaxRowsPerId(feature)];
        int n = addressing.Resolve(feature, id, rows);
        var values = new List<float>();
        for (int i = 0; i < n; i++) values.AddRange(table.Matrices[rows[i].Matrix].Row(rows[i].Row).ToArray());
        addressing.Combine(feature, rows.AsSpan(0, n), values.ToArray(), output);
    }
}
