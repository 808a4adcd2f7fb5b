using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>
/// Criteo display-advertising click logs (Kaggle DAC / Terabyte), one sample per line, 40 tab-separated fields:
/// <code>
///   label \t I1 .. I13 \t C1 .. C26
///   1     \t 5 \t 0 \t \t 1382 ... \t 68fd1e64 \t 80e26c9b \t \t ...
/// </code>
/// label is 0 or 1; I1..I13 are integers (may be negative; empty = missing) that go through
/// <see cref="CtrReaderOptions.Dense"/> (default log(1 + max(x, 0)), missing = 0); C1..C26 are hex strings
/// hashed from their UTF-8 bytes (empty = missing = empty bag). Unlabelled test files (39 fields) are not read.
/// </summary>
public sealed class CriteoReader : TextCtrReader
{
    public const int DenseFeatureCount = 13;
    public const int SparseFeatureCount = 26;
    public const int FieldCount = 1 + DenseFeatureCount + SparseFeatureCount;

    private static readonly string[] DenseNames = DatasetSchema.Criteo.DenseFeatures.ToArray();
    private readonly int[] _starts = new int[FieldCount];
    private readonly int[] _ends = new int[FieldCount];
    private readonly double[] _raw = new double[DenseFeatureCount];
    private readonly Transforms.DenseTransform _dense;

    public CriteoReader(string path, CtrReaderOptions? options = null, ReaderPosition? start = null)
        : base(path, options)
    {
        try
        {
            _dense = Options.Dense;
            _dense.Validate(DenseFeatureCount);
            ResumeAt(start);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override DatasetSchema Schema => DatasetSchema.Criteo;

    protected override bool TryParseRecord(ReadOnlySpan<byte> line, long lineNumber, CtrBatchBuilder builder)
    {
        int n = Utf8Fields.Split(line, (byte)'\t', _starts, _ends);
        if (n != FieldCount)
            return Reject("(record)", line, $"expected {FieldCount} tab-separated fields (label, I1..I13, C1..C26), found {n}");

        var label = line[_starts[0].._ends[0]];
        if (label.Length != 1 || (label[0] != (byte)'0' && label[0] != (byte)'1'))
            return Reject("label", label, "label must be 0 or 1");

        for (int d = 0; d < DenseFeatureCount; d++)
        {
            var field = line[_starts[1 + d].._ends[1 + d]];
            if (field.IsEmpty) _raw[d] = double.NaN;
            else if (Utf8Fields.TryParseInt64(field, out long v)) _raw[d] = v;
            else return Reject(DenseNames[d], field, "not an integer");
        }

        var dense = builder.BeginSample(label[0] == (byte)'1' ? 1f : 0f, lineNumber);
        for (int d = 0; d < DenseFeatureCount; d++) dense[d] = _dense.Apply(d, _raw[d]);
        var sparse = builder.Sparse;
        for (int c = 0; c < SparseFeatureCount; c++)
        {
            int i = 1 + DenseFeatureCount + c;
            if (_ends[i] > _starts[i]) sparse.AddUtf8(c, line[_starts[i].._ends[i]]);
        }
        builder.EndSample();
        return true;
    }
}
