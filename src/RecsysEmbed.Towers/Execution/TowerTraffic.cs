namespace RecsysEmbed.Towers.Execution;

/// <summary>
/// Bytes that crossed tower boundaries in training steps (scoring-only forwards are not counted), counted by the
/// executor as it moves them: ids and bag lengths into the
/// towers (8 B per id, 4 B per bag), tower outputs out (4 B per float), and their gradients back in. Thread safe.
/// </summary>
public sealed class TowerTraffic
{
    private long _idBytes, _outputBytes, _gradientBytes, _trainingSamples;

    public long IdBytes => Interlocked.Read(ref _idBytes);
    public long OutputBytes => Interlocked.Read(ref _outputBytes);
    public long GradientBytes => Interlocked.Read(ref _gradientBytes);
    public long TotalBytes => IdBytes + OutputBytes + GradientBytes;
    /// <summary>Samples of training steps (forward and backward).</summary>
    public long TrainingSamples => Interlocked.Read(ref _trainingSamples);
    public double BytesPerTrainingSample => TrainingSamples > 0 ? (double)TotalBytes / TrainingSamples : 0;

    internal void AddIds(long bytes) => Interlocked.Add(ref _idBytes, bytes);
    internal void AddOutputs(long bytes) => Interlocked.Add(ref _outputBytes, bytes);
    internal void AddGradients(long bytes) => Interlocked.Add(ref _gradientBytes, bytes);
    internal void AddTrainingSamples(long samples) => Interlocked.Add(ref _trainingSamples, samples);

    public void Reset()
    {
        Interlocked.Exchange(ref _idBytes, 0);
        Interlocked.Exchange(ref _outputBytes, 0);
        Interlocked.Exchange(ref _gradientBytes, 0);
        Interlocked.Exchange(ref _trainingSamples, 0);
    }
}
