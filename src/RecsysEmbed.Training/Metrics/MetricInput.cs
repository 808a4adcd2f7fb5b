using System.Runtime.CompilerServices;

namespace RecsysEmbed.Training.Metrics;

/// <summary>
/// Input checks shared by every metric, run over a whole batch before any state changes, so a bad batch leaves
/// streaming metrics as they were. Labels are floats that must be exactly 0 or 1 (the usual CTR label tensor).
/// </summary>
internal static class MetricInput
{
    /// <summary>Checks lengths, NaN scores and 0/1 labels; with <paramref name="probabilities"/>, also that scores lie in [0, 1].</summary>
    public static void Validate(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, bool probabilities)
    {
        if (predictions.Length != labels.Length) ThrowHelper.LengthMismatch(predictions.Length, labels.Length);
        for (int i = 0; i < predictions.Length; i++)
        {
            float p = predictions[i], y = labels[i];
            if (probabilities)
            {
                // One comparison pair rejects NaN too: NaN fails both.
                if (!(p >= 0f && p <= 1f))
                {
                    if (float.IsNaN(p)) ThrowHelper.NaNPrediction(i);
                    ThrowHelper.NotProbability(i, p);
                }
            }
            else if (float.IsNaN(p)) ThrowHelper.NaNPrediction(i);
            if (y != 0f && y != 1f) ThrowHelper.BadLabel(i, y);
        }
    }

    /// <summary>
    /// Packs a score and its label into one sortable key, so one integer sort orders samples by score and puts
    /// equal scores next to each other:
    /// <code>
    ///   bit 63 ........................ 1 | bit 0
    ///   [ 32-bit order-preserving score   | label ]     (upper 31 bits zero)
    /// </code>
    /// The score bits map IEEE order onto unsigned order (flip all bits of negatives, set the sign bit of
    /// positives); -0 is folded onto +0 first so the two zeros tie. Keys of equal scores differ only in bit 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong PairKey(float prediction, float label)
    {
        if (prediction == 0f) prediction = 0f;
        uint bits = BitConverter.SingleToUInt32Bits(prediction);
        bits = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
        return ((ulong)bits << 1) | (label != 0f ? 1ul : 0ul);
    }
}
