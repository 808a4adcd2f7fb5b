using System.Numerics.Tensors;
using RecsysEmbed.Core.Tables;
using RecsysEmbed.Core.Tables.Addressing;
using RecsysEmbed.Serving.Store;

namespace RecsysEmbed.Serving.Model;

/// <summary>Per-value vectors, or one pooled vector per feature.</summary>
public enum LookupShape { Pooled, PerValue }

/// <summary>
/// One request's features and ids, built value by value, plus the scratch a lookup needs; reused across requests by
/// one thread at a time (rent from <see cref="LookupEngine.Rent"/>), so a lookup allocates nothing once warm.
/// <code>
///   features [ f0 | f1 | ... ]        ids / weights packed per feature: [ f0's ids | f1's ids | ... ]
/// </code>
/// </summary>
public sealed class LookupQuery
{
    internal RowStoreSession Session = null!;
    internal int[] Features = new int[32];
    internal int[] Start = new int[33];
    internal long[] Ids = new long[64];
    internal float[] Weights = new float[64];
    internal bool HasWeights;
    internal int FeatureCount;
    internal int IdCount;
    // scratch for resolution and reads
    internal int[] Matrices = new int[128];
    internal long[] Rows = new long[128];
    internal PhysicalRow[] Physical = new PhysicalRow[128];
    internal int[] RowsPerId = new int[64];
    internal float[] Values = new float[2048];
    internal long[] Versions = new long[128];
    internal float[] Vector = new float[256];


    public void Clear()
    {
        FeatureCount = 0;
        IdCount = 0;
        HasWeights = false;
    }

    /// <summary>Starts the next feature of the request (values follow with <see cref="AddId"/>).</summary>
    public void BeginFeature(int feature)
    {
        if (FeatureCount == Features.Length)
        {
            Array.Resize(ref Features, Features.Length * 2);
            Array.Resize(ref Start, Features.Length + 1);
        }
        Features[FeatureCount] = feature;
        Start[FeatureCount] = IdCount;
        FeatureCount++;
        Start[FeatureCount] = IdCount;
    }

    public void AddId(long id, float weight = 1f)
    {
        if (IdCount == Ids.Length)
        {
            Array.Resize(ref Ids, Ids.Length * 2);
            Array.Resize(ref Weights, Ids.Length);
        }
        Ids[IdCount] = id;
        Weights[IdCount] = weight;
        if (weight != 1f) HasWeights = true;
        IdCount++;
        Start[FeatureCount] = IdCount;
    }

    public int ValueCount(int i) => Start[i + 1] - Start[i];
    public int FeatureAt(int i) => Features[i];
}

/// <summary>
/// Resolves lookups against the store: ids → physical rows (the family's addressing) → one batched FASTER read →
/// combine per id → pool per feature. Output of <see cref="Execute"/>, features in query order:
/// <code>
///   Pooled:    [ f0: OutputDim_0 | f1: OutputDim_1 | ... ]
///   PerValue:  [ f0: n_0 x OutputDim_0 | f1: n_1 x OutputDim_1 | ... ]
/// </code>
/// Thread-safe; each thread works on its own rented <see cref="LookupQuery"/>.
/// </summary>
public sealed class LookupEngine(ServingModel model, FasterRowStore store)
{
    private readonly System.Collections.Concurrent.ConcurrentBag<LookupQuery> _pool = new();

    public ServingModel Model { get; } = model;
    public FasterRowStore Store { get; } = store;

    public LookupQuery Rent()
    {
        if (!_pool.TryTake(out var q)) q = new LookupQuery();
        q.Session = Store.RentSession();
        q.Clear();
        return q;
    }

    public void Return(LookupQuery query)
    {
        Store.Return(query.Session);
        query.Session = null!;
        _pool.Add(query);
    }

    /// <summary>Floats <see cref="Execute"/> writes for the query.</summary>
    public int OutputLength(LookupQuery q, LookupShape shape)
    {
        int n = 0;
        for (int i = 0; i < q.FeatureCount; i++)
        {
            int dim = Model.Features[q.Features[i]].OutputDim;
            n += shape == LookupShape.Pooled ? dim : dim * q.ValueCount(i);
        }
        return n;
    }

    /// <summary>Runs the query; returns the newest row version read (-1 when no row was read).</summary>
    public long Execute(LookupQuery q, LookupShape shape, Span<float> output)
    {
        int needed = OutputLength(q, shape);
        if (output.Length < needed) throw new ArgumentException($"output has length {output.Length}, {needed} needed.", nameof(output));
        // 1. ids -> physical rows
        int rowCount = 0;
        for (int i = 0; i < q.FeatureCount; i++)
        {
            var binding = Model.Features[q.Features[i]];
            int max = binding.Addressing.MaxRowsPerId(binding.LocalFeature);
            for (int k = q.Start[i]; k < q.Start[i + 1]; k++)
            {
                EnsureRows(q, rowCount + max, k + 1);
                int n = binding.Addressing.Resolve(binding.LocalFeature, q.Ids[k], q.Physical.AsSpan(rowCount, max));
                for (int r = rowCount; r < rowCount + n; r++)
                {
                    q.Matrices[r] = binding.GlobalMatrices[q.Physical[r].Matrix];
                    q.Rows[r] = q.Physical[r].Row;
                }
                q.RowsPerId[k] = n;
                rowCount += n;
            }
        }
        // 2. one batched read
        int floats = 0;
        for (int r = 0; r < rowCount; r++) floats += Store.Catalog[q.Matrices[r]].Dim;
        if (q.Values.Length < floats) q.Values = new float[Math.Max(floats, q.Values.Length * 2)];
        q.Session.Read(q.Matrices.AsSpan(0, rowCount), q.Rows.AsSpan(0, rowCount), q.Values.AsSpan(0, floats), q.Versions.AsSpan(0, rowCount));
        long maxVersion = -1;
        for (int r = 0; r < rowCount; r++) maxVersion = Math.Max(maxVersion, q.Versions[r]);
        // 3. combine per id, pool per feature
        int row = 0, value = 0, outAt = 0;
        for (int i = 0; i < q.FeatureCount; i++)
        {
            var binding = Model.Features[q.Features[i]];
            int dim = binding.OutputDim;
            int start = q.Start[i], end = q.Start[i + 1];
            if (q.Vector.Length < dim) q.Vector = new float[dim];
            var pooled = output.Slice(outAt, shape == LookupShape.Pooled ? dim : dim * (end - start));
            if (shape == LookupShape.Pooled) pooled.Clear();
            if (shape == LookupShape.Pooled && end - start == 1 && q.Weights[start] == 1f)
            {
                // One value of weight 1 (sum or mean alike): its combined vector is the pooled one.
                int n = q.RowsPerId[start];
                int width = 0;
                for (int r = row; r < row + n; r++) width += Store.Catalog[q.Matrices[r]].Dim;
                binding.Addressing.Combine(binding.LocalFeature, q.Physical.AsSpan(row, n), q.Values.AsSpan(value, width), pooled);
                row += n;
                value += width;
                outAt += dim;
                continue;
            }
            for (int k = start; k < end; k++)
            {
                int n = q.RowsPerId[k];
                int width = 0;
                for (int r = row; r < row + n; r++) width += Store.Catalog[q.Matrices[r]].Dim;
                var target = shape == LookupShape.Pooled ? q.Vector.AsSpan(0, dim) : pooled.Slice((k - start) * dim, dim);
                binding.Addressing.Combine(binding.LocalFeature, q.Physical.AsSpan(row, n), q.Values.AsSpan(value, width), target);
                if (shape == LookupShape.Pooled)
                {
                    float scale = q.Weights[k];
                    if (binding.Pooling == PoolingMode.Mean) scale /= end - start;
                    TensorPrimitives.MultiplyAdd(target, scale, pooled, pooled);
                }
                row += n;
                value += width;
            }
            outAt += pooled.Length;
        }
        return maxVersion;
    }

    private static void EnsureRows(LookupQuery q, int rows, int ids)
    {
        if (q.Matrices.Length < rows)
        {
            int size = Math.Max(rows, q.Matrices.Length * 2);
            Array.Resize(ref q.Matrices, size);
            Array.Resize(ref q.Rows, size);
            Array.Resize(ref q.Physical, size);
            Array.Resize(ref q.Versions, size);
        }
        if (q.RowsPerId.Length < ids) Array.Resize(ref q.RowsPerId, Math.Max(ids, q.RowsPerId.Length * 2));
    }
}
