namespace RecsysEmbed.Towers.Sharding;

/// <summary>
/// Bytes each worker sends and receives in one training step, intra-host and inter-host apart, and the peers it
/// exchanges messages with (for a per-message latency). A transfer from a worker to itself costs nothing.
/// </summary>
public sealed class TrafficLedger
{
    private readonly ClusterTopology _topology;
    private readonly double[] _intraSent, _intraReceived, _interSent, _interReceived;
    private readonly HashSet<long> _links = [];

    public TrafficLedger(ClusterTopology topology)
    {
        _topology = topology;
        int n = topology.Workers;
        _intraSent = new double[n];
        _intraReceived = new double[n];
        _interSent = new double[n];
        _interReceived = new double[n];
    }

    public ClusterTopology Topology => _topology;
    public double IntraBytes { get; private set; }
    public double InterBytes { get; private set; }
    public double TotalBytes => IntraBytes + InterBytes;

    public void Add(int from, int to, double bytes)
    {
        if (from == to || bytes <= 0) return;
        _links.Add(((long)from << 32) | (uint)to);
        if (_topology.HostOf(from) == _topology.HostOf(to))
        {
            _intraSent[from] += bytes;
            _intraReceived[to] += bytes;
            IntraBytes += bytes;
        }
        else
        {
            _interSent[from] += bytes;
            _interReceived[to] += bytes;
            InterBytes += bytes;
        }
    }

    /// <summary>
    /// Sends across hosts through the peer with the sender's local rank on the receiving host, then within that
    /// host: one inter-host message per host pair and rank, as DMT's semantic-preserving tower transform does.
    /// </summary>
    public void AddViaPeer(int from, int to, double bytes)
    {
        int toHost = _topology.HostOf(to);
        if (_topology.HostOf(from) == toHost) { Add(from, to, bytes); return; }
        int gateway = _topology.Worker(toHost, _topology.LocalRank(from));
        Add(from, gateway, bytes);
        Add(gateway, to, bytes);
    }

    /// <summary>The busiest worker's intra-host bytes: max over workers of max(sent, received) (links are full duplex).</summary>
    public double MaxIntraBytes => MaxOf(_intraSent, _intraReceived);
    public double MaxInterBytes => MaxOf(_interSent, _interReceived);
    public double IntraSent(int worker) => _intraSent[worker];
    public double IntraReceived(int worker) => _intraReceived[worker];
    public double InterSent(int worker) => _interSent[worker];
    public double InterReceived(int worker) => _interReceived[worker];

    /// <summary>Most distinct peers any worker sends to, intra-host and inter-host.</summary>
    public (int Intra, int Inter) MaxPeers()
    {
        var intra = new int[_topology.Workers];
        var inter = new int[_topology.Workers];
        foreach (long link in _links)
        {
            int from = (int)(link >> 32), to = (int)(uint)link;
            if (_topology.HostOf(from) == _topology.HostOf(to)) intra[from]++;
            else inter[from]++;
        }
        return (intra.Max(), inter.Max());
    }

    private static double MaxOf(double[] a, double[] b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Max(a[i], b[i]));
        return max;
    }
}
