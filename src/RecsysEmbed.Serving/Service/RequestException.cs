namespace RecsysEmbed.Serving.Service;

/// <summary>A request the service refuses, naming the field and value (gRPC INVALID_ARGUMENT, HTTP 400).</summary>
public sealed class RequestException(string field, string message) : Exception($"{field}: {message}")
{
    public string Field { get; } = field;
}
