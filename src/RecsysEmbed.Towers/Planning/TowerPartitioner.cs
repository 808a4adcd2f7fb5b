namespace RecsysEmbed.Towers.Planning;

/// <summary>How good a partition is: interaction kept inside towers, and the balance of each tower's load.</summary>
public readonly record struct PartitionQuality(double KeptShare, double LookupBalance, double MemoryBalance);

/// <summary>
/// Splits nodes (tables) into towers that keep strongly interacting nodes together while balancing lookup cost
/// and memory. Balanced graph partitioning in two steps:
/// <list type="number">
/// <item>Starts: longest-processing-time on a combined load (memory share + lookup share), and greedy growth
/// (the heaviest nodes seed the towers; then the unplaced node most strongly tied to a tower that still has room
/// joins it).</item>
/// <item>Kernighan-Lin style refinement of each start: best single moves and pair swaps that raise the kept
/// interaction weight while every tower stays under the caps, until none helps.</item>
/// </list>
/// Caps per dimension (lookup, memory): max((1 + slack) x mean, the combined-load start's max), so the LPT start is
/// always feasible and the result is never less balanced than it (beyond the slack).
/// </summary>
public static class TowerPartitioner
{
    public static int[] Balanced(double[,] weights, IReadOnlyList<TableCost> nodes, int towers, double slack = 0.10)
    {
        int n = nodes.Count;
        CheckArguments(weights, n, towers);
        var lookup = nodes.Select(t => t.LookupPerSample).ToArray();
        var memory = nodes.Select(t => (double)t.MemoryBytes).ToArray();
        var lpt = Lpt(lookup, memory, towers);
        double capLookup = Math.Max((1 + slack) * lookup.Sum() / towers, Loads(lpt, lookup, towers).Max()) * (1 + 1e-9);
        double capMemory = Math.Max((1 + slack) * memory.Sum() / towers, Loads(lpt, memory, towers).Max()) * (1 + 1e-9);

        int[] best = Refine(lpt, weights, lookup, memory, towers, capLookup, capMemory);
        var grown = Grow(weights, lookup, memory, towers, capLookup, capMemory);
        if (grown is not null)
        {
            grown = Refine(grown, weights, lookup, memory, towers, capLookup, capMemory);
            if (Kept(grown, weights) > Kept(best, weights)) best = grown;
        }
        return best;
    }

    /// <summary>Node i to tower i mod T.</summary>
    public static int[] RoundRobin(int nodes, int towers) => Enumerable.Range(0, nodes).Select(i => i % towers).ToArray();

    /// <summary>A random partition with the same number of nodes per tower as <paramref name="like"/>.</summary>
    public static int[] RandomLike(IReadOnlyList<int> like, Random random)
    {
        var shuffled = like.ToArray();
        random.Shuffle(shuffled);
        return shuffled;
    }

    public static PartitionQuality Evaluate(IReadOnlyList<int> towerOf, double[,] weights, IReadOnlyList<TableCost> nodes, int towers) =>
        new(KeptShare(towerOf, weights),
            Balance(Loads(towerOf, nodes.Select(t => t.LookupPerSample).ToArray(), towers)),
            Balance(Loads(towerOf, nodes.Select(t => (double)t.MemoryBytes).ToArray(), towers)));

    /// <summary>Share of the total pairwise weight whose two nodes share a tower (1 when there is no weight).</summary>
    public static double KeptShare(IReadOnlyList<int> towerOf, double[,] weights)
    {
        double total = 0;
        int n = towerOf.Count;
        for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) if (a != b) total += weights[a, b];
        return total > 0 ? Kept(towerOf, weights) / total : 1;
    }

    private static double Balance(double[] loads) => loads.Average() > 0 ? loads.Max() / loads.Average() : 1;

    private static double Kept(IReadOnlyList<int> towerOf, double[,] weights)
    {
        double kept = 0;
        int n = towerOf.Count;
        for (int a = 0; a < n; a++) for (int b = 0; b < n; b++) if (a != b && towerOf[a] == towerOf[b]) kept += weights[a, b];
        return kept;
    }

    private static double[] Loads(IReadOnlyList<int> towerOf, double[] cost, int towers)
    {
        var loads = new double[towers];
        for (int i = 0; i < towerOf.Count; i++) loads[towerOf[i]] += cost[i];
        return loads;
    }

    private static int[] Lpt(double[] lookup, double[] memory, int towers)
    {
        double lt = Math.Max(lookup.Sum(), 1e-12), mt = Math.Max(memory.Sum(), 1e-12);
        var load = new double[towers];
        var result = new int[lookup.Length];
        foreach (int i in Enumerable.Range(0, lookup.Length).OrderByDescending(i => lookup[i] / lt + memory[i] / mt).ThenBy(i => i))
        {
            int t = Array.IndexOf(load, load.Min());
            load[t] += lookup[i] / lt + memory[i] / mt;
            result[i] = t;
        }
        return result;
    }

    /// <summary>Greedy growth; null when some node fits no tower under the caps.</summary>
    private static int[]? Grow(double[,] w, double[] lookup, double[] memory, int towers, double capLookup, double capMemory)
    {
        int n = lookup.Length;
        var towerOf = Enumerable.Repeat(-1, n).ToArray();
        var loadL = new double[towers];
        var loadM = new double[towers];
        double lt = Math.Max(lookup.Sum(), 1e-12), mt = Math.Max(memory.Sum(), 1e-12);
        var seeds = Enumerable.Range(0, n).OrderByDescending(i => lookup[i] / lt + memory[i] / mt).ThenBy(i => i).Take(towers).ToArray();
        for (int t = 0; t < seeds.Length; t++) Place(seeds[t], t);
        for (int placed = seeds.Length; placed < n; placed++)
        {
            int bestNode = -1, bestTower = -1;
            double bestTie = double.NegativeInfinity;
            for (int i = 0; i < n; i++)
            {
                if (towerOf[i] >= 0) continue;
                for (int t = 0; t < towers; t++)
                {
                    if (loadL[t] + lookup[i] > capLookup || loadM[t] + memory[i] > capMemory) continue;
                    double tie = 0;
                    for (int j = 0; j < n; j++) if (towerOf[j] == t) tie += w[i, j] + w[j, i];
                    // Ties (e.g. no weights) go to the lightest tower, so growth still balances.
                    tie -= 1e-12 * (loadL[t] / lt + loadM[t] / mt);
                    if (tie > bestTie) { bestTie = tie; bestNode = i; bestTower = t; }
                }
            }
            if (bestNode < 0) return null;
            Place(bestNode, bestTower);
        }
        return towerOf;

        void Place(int i, int t)
        {
            towerOf[i] = t;
            loadL[t] += lookup[i];
            loadM[t] += memory[i];
        }
    }

    private static int[] Refine(int[] start, double[,] w, double[] lookup, double[] memory, int towers, double capLookup, double capMemory)
    {
        int n = start.Length;
        var towerOf = (int[])start.Clone();
        var loadL = Loads(towerOf, lookup, towers);
        var loadM = Loads(towerOf, memory, towers);
        // tie[i, t]: weight between node i and the nodes of tower t (both directions).
        var tie = new double[n, towers];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) if (i != j) tie[i, towerOf[j]] += w[i, j] + w[j, i];

        for (int pass = 0; pass < 10 * n; pass++)
        {
            double bestGain = 1e-12;
            (int I, int J, int T) best = (-1, -1, -1);
            for (int i = 0; i < n; i++)
            {
                int a = towerOf[i];
                for (int t = 0; t < towers; t++)
                {
                    if (t == a) continue;
                    if (loadL[t] + lookup[i] <= capLookup && loadM[t] + memory[i] <= capMemory)
                    {
                        double gain = tie[i, t] - tie[i, a];
                        if (gain > bestGain) { bestGain = gain; best = (i, -1, t); }
                    }
                    for (int j = 0; j < n; j++)
                    {
                        if (towerOf[j] != t) continue;
                        if (loadL[t] + lookup[i] - lookup[j] > capLookup || loadM[t] + memory[i] - memory[j] > capMemory) continue;
                        if (loadL[a] + lookup[j] - lookup[i] > capLookup || loadM[a] + memory[j] - memory[i] > capMemory) continue;
                        double pair = w[i, j] + w[j, i];
                        double gain = tie[i, t] - tie[i, a] + tie[j, a] - tie[j, t] - 2 * pair;
                        if (gain > bestGain) { bestGain = gain; best = (i, j, t); }
                    }
                }
            }
            if (best.I < 0) break;
            int from = towerOf[best.I];
            Move(best.I, best.T);
            if (best.J >= 0) Move(best.J, from);
        }
        return towerOf;

        void Move(int i, int t)
        {
            int a = towerOf[i];
            loadL[a] -= lookup[i]; loadM[a] -= memory[i];
            loadL[t] += lookup[i]; loadM[t] += memory[i];
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                tie[j, a] -= w[i, j] + w[j, i];
                tie[j, t] += w[i, j] + w[j, i];
            }
            towerOf[i] = t;
        }
    }

    private static void CheckArguments(double[,] weights, int n, int towers)
    {
        if (towers < 1) throw new ArgumentOutOfRangeException(nameof(towers), towers, $"--towers: {towers} must be >= 1.");
        if (towers > n) throw new ArgumentOutOfRangeException(nameof(towers), towers, $"--towers: {towers} towers for {n} tables; at most {n}.");
        if (weights.GetLength(0) != n || weights.GetLength(1) != n)
            throw new ArgumentException($"weights are {weights.GetLength(0)} x {weights.GetLength(1)}, {n} x {n} needed.", nameof(weights));
    }
}
