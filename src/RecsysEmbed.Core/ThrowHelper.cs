using System.Diagnostics.CodeAnalysis;

namespace RecsysEmbed.Core;

/// <summary>Throw sites kept out of hot methods so the JIT can inline the checks.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void OutOfRange(string paramName, object? value, string message) =>
        throw new ArgumentOutOfRangeException(paramName, value, message);

    [DoesNotReturn]
    public static void IdOutOfRange(string paramName, long id, long cardinality, int position) =>
        throw new ArgumentOutOfRangeException(paramName, id,
            $"{paramName}[{position}] = {id} is outside [0, {cardinality}); a full table does not wrap ids (use a hashed family for open vocabularies).");

    [DoesNotReturn]
    public static void NegativeId(string paramName, long id, int position) =>
        throw new ArgumentOutOfRangeException(paramName, id, $"{paramName}[{position}] = {id} is negative; ids must be >= 0.");

    [DoesNotReturn]
    public static void NotFinite(string paramName, int position, float value) =>
        throw new ArgumentException($"{paramName}[{position}] = {value} is not finite; the update was refused and no row was changed.", paramName);

    [DoesNotReturn]
    public static void TooShort(string paramName, long needed, long actual) =>
        throw new ArgumentException($"{paramName} has length {actual}, but {needed} is needed.", paramName);
}
