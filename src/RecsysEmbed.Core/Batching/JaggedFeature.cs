namespace RecsysEmbed.Core.Batching;

/// <summary>
/// One feature's ids for a batch of B bags, as a view over flat buffers:
/// <code>
///   Ids      [ a0 a1 | b0 | (empty) | c0 c1 c2 ]      ids of bag 0, 1, 2, 3 back to back
///   Offsets  [ 0      2    3         3          6 ]   B + 1 entries; bag b is Ids[Offsets[b]-Offsets[0] .. Offsets[b+1]-Offsets[0])
///   Weights  [ w(a0) w(a1) w(b0) w(c0) w(c1) w(c2) ]  optional, one per id
/// </code>
/// Offsets may start at a non-zero base (a slice of a larger batch). The constructor validates once, so kernels
/// can trust the view.
/// </summary>
public readonly ref struct JaggedFeature
{
    public readonly ReadOnlySpan<long> Ids;
    public readonly ReadOnlySpan<int> Offsets;
    public readonly ReadOnlySpan<float> Weights;

    public JaggedFeature(ReadOnlySpan<long> ids, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights = default)
    {
        if (offsets.Length < 1) ThrowHelper.Argument(nameof(offsets), "offsets must have at least one entry (B + 1 entries for B bags).");
        int baseOffset = offsets[0];
        if (baseOffset < 0) ThrowHelper.OutOfRange(nameof(offsets), baseOffset, "offsets[0] is negative.");
        for (int b = 1; b < offsets.Length; b++)
        {
            if (offsets[b] < offsets[b - 1])
                ThrowHelper.Argument(nameof(offsets), $"offsets are not monotone: offsets[{b}] = {offsets[b]} < offsets[{b - 1}] = {offsets[b - 1]}.");
        }
        int count = offsets[^1] - baseOffset;
        if (count != ids.Length)
            ThrowHelper.Argument(nameof(ids), $"ids has length {ids.Length}, but offsets span {count} ids (offsets[^1] - offsets[0]).");
        if (!weights.IsEmpty && weights.Length != ids.Length)
            ThrowHelper.Argument(nameof(weights), $"weights has length {weights.Length}, but there are {ids.Length} ids.");
        // Vectorised min first; the position of a bad id is only searched for when there is one.
        if (!ids.IsEmpty && System.Numerics.Tensors.TensorPrimitives.Min(ids) < 0)
        {
            for (int i = 0; i < ids.Length; i++)
            {
                if (ids[i] < 0) ThrowHelper.NegativeId(nameof(ids), ids[i], i);
            }
        }
        Ids = ids;
        Offsets = offsets;
        Weights = weights;
    }

    // For views of an already validated batch: skips the O(n) checks.
    internal JaggedFeature(ReadOnlySpan<long> ids, ReadOnlySpan<int> offsets, ReadOnlySpan<float> weights, bool trusted)
    {
        _ = trusted;
        Ids = ids;
        Offsets = offsets;
        Weights = weights;
    }

    public int BagCount => Offsets.Length - 1;
    public bool HasWeights => !Weights.IsEmpty;

    /// <summary>Start of bag b within <see cref="Ids"/>.</summary>
    public int BagStart(int b) => Offsets[b] - Offsets[0];
    public int BagLength(int b) => Offsets[b + 1] - Offsets[b];

    /// <summary>Builds a view from per-bag lengths (allocates the offsets; for tests and tools, not hot paths).</summary>
    public static JaggedFeature FromLengths(ReadOnlySpan<long> ids, ReadOnlySpan<int> lengths, ReadOnlySpan<float> weights = default)
    {
        var offsets = new int[lengths.Length + 1];
        for (int b = 0; b < lengths.Length; b++)
        {
            if (lengths[b] < 0) ThrowHelper.OutOfRange(nameof(lengths), lengths[b], $"lengths[{b}] is negative.");
            offsets[b + 1] = offsets[b] + lengths[b];
        }
        return new JaggedFeature(ids, offsets, weights);
    }
}
