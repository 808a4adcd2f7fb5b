using RecsysEmbed.Data.Batching;
using RecsysEmbed.Data.Schema;

namespace RecsysEmbed.Data.Readers;

/// <summary>libFM / libSVM reader settings.</summary>
public sealed record LibFmOptions
{
    public static LibFmOptions Default { get; } = new();

    /// <summary>Name of the single weighted sparse feature.</summary>
    public string FeatureName { get; init; } = "features";

    /// <summary>
    /// True (default): an index becomes an id through the feature's salted hasher, like every other raw value.
    /// False: the index is the id itself (for a full table sized to the index range).
    /// </summary>
    public bool HashIndices { get; init; } = true;
}

/// <summary>
/// libFM (libSVM) text: one sample per line, whitespace-separated:
/// <code>
///   label idx:val idx:val ...        1 3:1 17:0.5 4096:1
///   label field:idx:val ...          -1 0:3:1 1:17:0.5        (libFFM; the field is ignored)
/// </code>
/// label 1 -> 1; 0 or -1 -> 0 (other values are malformed). Every idx:val becomes one id with weight val in a
/// single weighted bag (<see cref="LibFmOptions.FeatureName"/>); idx must be a non-negative integer, val a finite
/// number. A line with only a label gives an empty bag. No dense features.
/// </summary>
public sealed class LibFmReader : TextCtrReader
{
    private readonly DatasetSchema _schema;
    private readonly bool _hash;
    private long[] _ids = new long[64];
    private float[] _weights = new float[64];

    public LibFmReader(string path, LibFmOptions? libFm = null, CtrReaderOptions? options = null, ReaderPosition? start = null)
        : base(path, options)
    {
        try
        {
            var o = libFm ?? LibFmOptions.Default;
            _schema = new DatasetSchema("label", [], [o.FeatureName], weightedSparse: true);
            _hash = o.HashIndices;
            ResumeAt(start);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public override DatasetSchema Schema => _schema;

    protected override bool TryParseRecord(ReadOnlySpan<byte> line, long lineNumber, CtrBatchBuilder builder)
    {
        int pos = 0;
        var labelToken = NextToken(line, ref pos);
        if (labelToken.IsEmpty) return Reject("label", line, "line has no label");
        if (!Utf8Fields.TryParseDouble(labelToken, out double labelValue) || (labelValue != 1 && labelValue != 0 && labelValue != -1))
            return Reject("label", labelToken, "label must be 1, 0 or -1");

        int count = 0;
        while (true)
        {
            var token = NextToken(line, ref pos);
            if (token.IsEmpty) break;
            int lastColon = token.LastIndexOf((byte)':');
            if (lastColon < 0) return Reject($"features[{count}]", token, "expected idx:val or field:idx:val");
            var valueText = token[(lastColon + 1)..];
            var head = token[..lastColon];
            int fieldColon = head.LastIndexOf((byte)':');
            var indexText = fieldColon < 0 ? head : head[(fieldColon + 1)..];
            if (!Utf8Fields.TryParseInt64(indexText, out long index) || index < 0)
                return Reject($"features[{count}]", token, "index is not a non-negative integer");
            if (!Utf8Fields.TryParseDouble(valueText, out double value))
                return Reject($"features[{count}]", token, "value is not a finite number");
            if (count == _ids.Length)
            {
                Array.Resize(ref _ids, count * 2);
                Array.Resize(ref _weights, count * 2);
            }
            _ids[count] = index;
            _weights[count] = (float)value;
            count++;
        }

        builder.BeginSample(labelValue == 1 ? 1f : 0f, lineNumber);
        var sparse = builder.Sparse;
        for (int i = 0; i < count; i++)
        {
            if (_hash) sparse.AddInt64(0, _ids[i], _weights[i]);
            else sparse.AddId(0, _ids[i], _weights[i]);
        }
        builder.EndSample();
        return true;
    }

    private static ReadOnlySpan<byte> NextToken(ReadOnlySpan<byte> line, ref int pos)
    {
        while (pos < line.Length && IsSpace(line[pos])) pos++;
        int start = pos;
        while (pos < line.Length && !IsSpace(line[pos])) pos++;
        return line[start..pos];
    }

    private static bool IsSpace(byte b) => b == (byte)' ' || b == (byte)'\t';
}
