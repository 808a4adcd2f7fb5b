namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// Workers grouped in hosts: worker w sits on host w / WorkersPerHost with local rank w % WorkersPerHost. Traffic
/// between workers of one host is intra-host (NVLink-class); between hosts it is inter-host (network).
/// </summary>
public sealed record ClusterTopology
{
    public ClusterTopology(int hosts, int workersPerHost)
    {
        if (hosts < 1) throw new ArgumentOutOfRangeException(nameof(hosts), hosts, $"hosts: {hosts} must be >= 1.");
        if (workersPerHost < 1) throw new ArgumentOutOfRangeException(nameof(workersPerHost), workersPerHost, $"workers per host: {workersPerHost} must be >= 1.");
        Hosts = hosts;
        WorkersPerHost = workersPerHost;
    }

    public int Hosts { get; }
    public int WorkersPerHost { get; }
    public int Workers => Hosts * WorkersPerHost;
    public int HostOf(int worker) => worker / WorkersPerHost;
    public int LocalRank(int worker) => worker % WorkersPerHost;
    public int Worker(int host, int localRank) => host * WorkersPerHost + localRank;
}
