using Parquet;
using Parquet.Schema;
using RecsysEmbed.Data.Readers;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Data.Transforms;

namespace RecsysEmbed.Tests.Data;

public class ParquetCtrReaderTests
{
    private static readonly TabularSchema Table = new()
    {
        Label = "clicked",
        Dense = ["price"],
        Sparse = ["user", "item", "tags"],
        MultiValueSeparator = '|',
    };

    /// <summary>Writes rows in row groups of <paramref name="groupRows"/> (and the same rows as CSV).</summary>
    private static (string Parquet, string Csv) WriteTable(TempDir dir, int rows, int groupRows, int? nullLabelAt = null)
    {
        var rng = new Random(21);
        var clicked = new int?[rows];
        var price = new double?[rows];
        var user = new string?[rows];
        var item = new long?[rows];
        var tags = new string?[rows];
        for (int i = 0; i < rows; i++)
        {
            clicked[i] = i == nullLabelAt ? null : rng.Next(2);
            price[i] = i % 7 == 3 ? null : Math.Round(rng.NextDouble() * 50, 3);
            user[i] = i % 5 == 2 ? null : $"u{rng.Next(30)}";
            item[i] = i % 6 == 1 ? null : rng.Next(-5, 1000);
            tags[i] = i % 4 == 0 ? $"a|b{rng.Next(3)}" : "c";
        }
        var schema = new ParquetSchema(new DataField<int?>("clicked"), new DataField<double?>("price"), new DataField<string>("user"),
            new DataField<long?>("item"), new DataField<string>("tags"));
        string path = dir.PathOf("t.parquet");
        using (var stream = File.Create(path))
        {
            var writer = ParquetWriter.CreateAsync(schema, stream).GetAwaiter().GetResult();
            try
            {
                for (int start = 0; start < rows; start += groupRows)
                {
                    int n = Math.Min(groupRows, rows - start);
                    using var group = writer.CreateRowGroup();
                    group.WriteAsync<int>(schema.DataFields[0], clicked.AsMemory(start, n)).GetAwaiter().GetResult();
                    group.WriteAsync<double>(schema.DataFields[1], price.AsMemory(start, n)).GetAwaiter().GetResult();
                    group.WriteAsync(schema.DataFields[2], user[start..(start + n)]!).GetAwaiter().GetResult();
                    group.WriteAsync<long>(schema.DataFields[3], item.AsMemory(start, n)).GetAwaiter().GetResult();
                    group.WriteAsync(schema.DataFields[4], tags[start..(start + n)]!).GetAwaiter().GetResult();
                }
            }
            finally
            {
                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        string csv = dir.Write("t.csv", Enumerable.Range(0, rows)
            .Select(i => $"{clicked[i]},{price[i]?.ToString("R", System.Globalization.CultureInfo.InvariantCulture)},{user[i]},{item[i]},{tags[i]}")
            .Prepend("clicked,price,user,item,tags"));
        return (path, csv);
    }

    [Fact]
    public void Read_MatchesTheSameTableAsCsv()
    {
        using var dir = new TempDir();
        var (parquet, csv) = WriteTable(dir, rows: 100, groupRows: 30);
        using var reader = new ParquetCtrReader(parquet, Table);
        var fromParquet = BatchSnapshot.ReadAll(reader, 16);
        var fromCsv = BatchSnapshot.ReadAll(new DelimitedReader(csv, Table), 16);
        Assert.Equal(7, fromParquet.Count);
        for (int i = 0; i < fromCsv.Count; i++)
        {
            Assert.Equal(fromCsv[i].Labels, fromParquet[i].Labels);
            Assert.Equal(fromCsv[i].Dense, fromParquet[i].Dense);
            Assert.Equal(fromCsv[i].Values, fromParquet[i].Values);
            Assert.Equal(fromCsv[i].Offsets, fromParquet[i].Offsets);
        }
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), fromParquet[0].Positions); // row indices
        Assert.Equal(new ReaderPosition(0, 0, 100), reader.Position);
    }

    [Fact]
    public void Resume_FromRecordIndex_GivesTheSameFollowingBatches()
    {
        using var dir = new TempDir();
        var (parquet, _) = WriteTable(dir, rows: 100, groupRows: 30);
        var all = BatchSnapshot.ReadAll(new ParquetCtrReader(parquet, Table), 16);
        ReaderPosition checkpoint;
        using (var reader = new ParquetCtrReader(parquet, Table))
        {
            var builder = reader.CreateBuilder();
            for (int i = 0; i < 3; i++) reader.TryReadBatch(builder, 16, out _);
            checkpoint = reader.Position; // row 48, inside the second row group
        }
        Assert.Equal(48, checkpoint.RecordIndex);
        Snapshots.AssertSame(all.Skip(3).ToList(), BatchSnapshot.ReadAll(new ParquetCtrReader(parquet, Table, start: checkpoint), 16));
    }

    [Fact]
    public void NullLabel_FailsOrIsSkipped_WithRowIndex()
    {
        using var dir = new TempDir();
        var (parquet, _) = WriteTable(dir, rows: 40, groupRows: 25, nullLabelAt: 27);
        var e = Assert.Throws<MalformedRecordException>(() => BatchSnapshot.ReadAll(new ParquetCtrReader(parquet, Table), 16));
        Assert.Equal((27L, "clicked"), (e.Line, e.Field));
        Assert.Contains("t.parquet row 27: field clicked", e.Message);

        using var skipping = new ParquetCtrReader(parquet, Table, new CtrReaderOptions { OnMalformed = MalformedPolicy.Skip, Dense = DenseTransform.None });
        Assert.Equal(39, BatchSnapshot.ReadAll(skipping, 16).Sum(b => b.Labels.Length));
        Assert.Equal(1, skipping.Report.SkippedRecords);
    }

    [Fact]
    public void UnknownColumn_IsReportedAtOpen()
    {
        using var dir = new TempDir();
        var (parquet, _) = WriteTable(dir, rows: 5, groupRows: 5);
        var e = Assert.Throws<InvalidDataException>(() => new ParquetCtrReader(parquet, Table with { Sparse = ["nope"] }));
        Assert.Contains("column nope is not among the file's columns", e.Message);
    }
}
