using System.Diagnostics.CodeAnalysis;

namespace RecsysEmbed.Training;

/// <summary>Throw sites kept out of hot loops so the JIT can inline the checks.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void OutOfRange(string paramName, object? value, string message) =>
        throw new ArgumentOutOfRangeException(paramName, value, message);

    [DoesNotReturn]
    public static void LengthMismatch(int predictions, int labels) =>
        throw new ArgumentException($"predictions has length {predictions} but labels has length {labels}; they must match.", "labels");

    [DoesNotReturn]
    public static void NaNPrediction(int position) =>
        throw new ArgumentException($"predictions[{position}] is NaN; metrics need a score for every sample.", "predictions");

    [DoesNotReturn]
    public static void NotProbability(int position, float value) =>
        throw new ArgumentException($"predictions[{position}] = {value} is not a probability in [0, 1] (pass sigmoid outputs, not logits).", "predictions");

    [DoesNotReturn]
    public static void BadLabel(int position, float value) =>
        throw new ArgumentException($"labels[{position}] = {value}; labels must be exactly 0 or 1.", "labels");
}
