using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Data.Synthetic;

/// <summary>
/// The ground truth behind a synthetic click log: a factorisation machine whose parameters are hashes, not
/// storage. For a row at index i with categorical raw values r_f (missing ones left out) and dense counts x_d:
/// <code>
///   logit(i) = b0 + sum_f w_f(r_f, i) + c * sum_{f&lt;g} m_fg &lt;v_f(r_f, i), v_g(r_g, i)&gt; + sum_d gamma_d * log(1 + max(x_d, 0))
///   m_fg     = 1 if f and g are in the same interaction group, else epsilon (cross-group strength)
///   p(i)     = 1 / (1 + exp(-logit))          label ~ Bernoulli(p)
///
///   w_f(r, i) = s_f(k) * (cos(theta_i) * a_f(r) + sin(theta_i) * a'_f(r))   a, a' uniform, from XXH-style mixes of (r, key_f)
///   v_f(r, i) = s_f(k) * (cos(theta_i) * u_f(r) + sin(theta_i) * u'_f(r))   k-dim, entries uniform, 16 bits each
///   theta_i   = (pi / 2) * drift * i / 10^6                                  0 without drift
///   s_f(k)^2  = n_f(k) / (n_f(k) + c) / E[n_f / (n_f + c)]                   signal shrinkage by popularity
///   n_f(k)    = R * P_f(rank k)                                              expected count of the value in R rows
/// </code>
/// The shrinkage (c = <see cref="SyntheticOptions.SignalHalfCount"/>, R = <see cref="SyntheticOptions.SignalReferenceRows"/>)
/// makes a value's planted effect grow with how often it is seen, as in real logs, where a value seen a handful of
/// times carries almost no identifiable signal: a value expected c times in R rows keeps half its variance. The
/// normalisation by the Zipf-weighted mean keeps each feature's variance budget. With c = 0 every value has the
/// same scale, and the tail, which no learner can recover from a few sightings, still counts towards the best AUC.
/// Features fall into interaction groups (a seeded, balanced assignment), as user, item and context features do in
/// real logs: pairs inside a group interact fully, pairs across groups with strength epsilon. This is the structure
/// a tower partitioner should recover (<see cref="InteractionGroup"/> exposes it).
/// Keys derive from the seed, so any value's parameters are recomputed on demand (no table per value). The
/// pairwise sum uses, per group and overall, the identity sum_{f&lt;g} &lt;v_f, v_g&gt; = (|sum v|^2 - sum |v|^2) / 2,
/// O(F k) per row.
/// Variance budget (before missing values): first-order 0.5, pairwise 0.6, dense about 0.3; b0 is calibrated so
/// the mean probability is the target CTR. p depends only on what the row file shows (and the row index under
/// drift), so the AUC of p over the rows is the best any model can reach.
/// </summary>
public sealed class PlantedCtrModel
{
    internal const double BiasVariance = 0.5;
    internal const double PairVariance = 0.6;
    internal const double DenseVariance = 0.3;

    private readonly CategoricalParams[] _cat;
    private readonly int[] _group;
    private readonly DenseParams[] _dense;

    internal PlantedCtrModel(SyntheticSchemaKind kind, IReadOnlyList<SyntheticCategorical> categorical, IReadOnlyList<SyntheticDense> dense,
        ulong seed, int latentDim, double drift, long rows, double signalHalfCount = 0, double signalReferenceRows = 1e6,
        int interactionGroups = 1, double crossGroupStrength = 1)
    {
        interactionGroups = Math.Clamp(interactionGroups, 1, Math.Max(1, categorical.Count));
        InteractionGroups = interactionGroups;
        CrossGroupStrength = crossGroupStrength;
        SignalHalfCount = signalHalfCount;
        SignalReferenceRows = signalReferenceRows;
        Kind = kind;
        Categorical = categorical;
        Dense = dense;
        Seed = seed;
        LatentDim = latentDim;
        Drift = drift;
        Rows = rows;

        ulong Key(string what, int index) => BucketHash.Mix((long)BucketHash.DeriveSeed(seed, index), Fnv(what));
        double Uniform(string what, int index) => (Key(what, index) >> 11) * (1.0 / (1ul << 53));

        int f = categorical.Count;
        var alpha = Enumerable.Range(0, f).Select(i => 0.3 + 1.4 * Uniform("bias-importance", i)).ToArray();
        var beta = Enumerable.Range(0, f).Select(i => 0.3 + 1.4 * Uniform("latent-importance", i)).ToArray();
        double alphaSq = alpha.Sum(a => a * a);
        // balanced groups: a seeded shuffle of the features, dealt round-robin
        _group = new int[f];
        var order = Enumerable.Range(0, f).OrderBy(i => Key("interaction-group", i)).ToArray();
        for (int i = 0; i < f; i++) _group[order[i]] = i % interactionGroups;
        double pairSq = 0;
        for (int a = 0; a < f; a++)
            for (int b = a + 1; b < f; b++)
            {
                double m = PairWeight(a, b);
                pairSq += m * m * beta[a] * beta[a] * beta[b] * beta[b];
            }
        PairScale = pairSq > 0 ? Math.Sqrt(PairVariance * latentDim / pairSq) : 0;

        _cat = new CategoricalParams[f];
        for (int i = 0; i < f; i++)
        {
            var spec = categorical[i];
            _cat[i] = new CategoricalParams
            {
                Cardinality = spec.Cardinality,
                Format = spec.Format,
                // uniform on [-1, 1) has variance 1/3
                BiasScale = alpha[i] * Math.Sqrt(BiasVariance / alphaSq) * Math.Sqrt(3),
                LatentScale = beta[i] * Math.Sqrt(3.0 / latentDim),
                BiasKeyA = Key("bias-a", i),
                BiasKeyB = Key("bias-b", i),
                LatentKeyA = Key("latent-a", i),
                LatentKeyB = Key("latent-b", i),
                PermKey1 = (uint)Key("perm-1", i),
                PermKey2 = (uint)Key("perm-2", i),
                PermBits = spec.Cardinality <= 1 ? 0 : 64 - BitOperations.LeadingZeroCount((ulong)(spec.Cardinality - 1)),
                RotationPerUnit = Math.Min(spec.Cardinality, 1000),
                Shrink = SignalShrinkage.Create(spec.Cardinality, spec.ZipfExponent, signalHalfCount, signalReferenceRows),
            };
        }

        _dense = new DenseParams[dense.Count];
        for (int d = 0; d < dense.Count; d++)
        {
            var spec = dense[d];
            double sign = Uniform("dense-sign", d) < 0.5 ? -1 : 1;
            double size = 0.5 + Uniform("dense-size", d);
            _dense[d] = new DenseParams
            {
                LogMu = Math.Log(spec.Median + 1),
                LogSigma = spec.LogSigma,
                Gamma = sign * size * Math.Sqrt(DenseVariance / Math.Max(1, dense.Count)) / Math.Max(0.5, spec.LogSigma),
            };
        }
    }

    public SyntheticSchemaKind Kind { get; }
    public IReadOnlyList<SyntheticCategorical> Categorical { get; }
    public IReadOnlyList<SyntheticDense> Dense { get; }
    public ulong Seed { get; }
    public int LatentDim { get; }
    public double Drift { get; }
    public long Rows { get; }
    public double PairScale { get; }
    public double SignalHalfCount { get; }
    public int InteractionGroups { get; }
    public double CrossGroupStrength { get; }

    /// <summary>The planted interaction group of categorical feature <paramref name="f"/> (0-based, in Categorical order).</summary>
    public int InteractionGroup(int f) => _group[f];

    /// <summary>m_fg: 1 inside a group, the cross-group strength across groups.</summary>
    public double PairWeight(int f, int g) => _group[f] == _group[g] ? 1 : CrossGroupStrength;

    /// <summary>Length of the scratch span <see cref="AddValue"/> accumulates into: per group, k sums and one sum of squares.</summary>
    internal int SumsLength => InteractionGroups * (LatentDim + 1);
    public double SignalReferenceRows { get; }

    /// <summary>b0, calibrated by the generator so the mean probability is the target CTR.</summary>
    public double GlobalBias { get; internal set; }

    internal CategoricalParams Cat(int f) => _cat[f];
    internal DenseParams Dns(int d) => _dense[d];

    /// <summary>theta_i's cosine and sine, and whether drift is on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal (double Cos, double Sin) Rotation(long row)
    {
        if (Drift == 0) return (1, 0);
        var (sin, cos) = Math.SinCos(Math.PI / 2 * Drift * row / 1e6);
        return (cos, sin);
    }

    /// <summary>
    /// Adds a categorical value's first-order weight to logit and its latent vector to the running sums;
    /// <paramref name="rank"/> is the value's 0-based popularity rank at this row (it sets the shrinkage).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void AddValue(int f, uint raw, long rank, double cos, double sin, ref double logit, Span<double> sums)
    {
        var p = _cat[f];
        double shrink = p.Shrink.Scale(rank);
        double biasScale = p.BiasScale * shrink, latentScale = p.LatentScale * shrink;
        double w = biasScale * Centered(BucketHash.Mix(raw, p.BiasKeyA));
        if (sin != 0) w = cos * w + sin * biasScale * Centered(BucketHash.Mix(raw, p.BiasKeyB));
        logit += w;
        int k = LatentDim, group = _group[f];
        var sumV = sums.Slice(group * k, k);
        double sumSq = 0;
        for (int j = 0; j < k; j += 4)
        {
            ulong ha = BucketHash.Mix(raw, p.LatentKeyA + (ulong)j);
            ulong hb = sin != 0 ? BucketHash.Mix(raw, p.LatentKeyB + (ulong)j) : 0;
            int end = Math.Min(4, k - j);
            for (int t = 0; t < end; t++)
            {
                double v = latentScale * Centered16(ha >> (16 * t));
                if (sin != 0) v = cos * v + sin * latentScale * Centered16(hb >> (16 * t));
                sumV[j + t] += v;
                sumSq += v * v;
            }
        }
        sums[InteractionGroups * k + group] += sumSq;
    }

    /// <summary>The pairwise term from the running per-group sums.</summary>
    internal double PairTerm(ReadOnlySpan<double> sums)
    {
        int k = LatentDim, groups = InteractionGroups;
        Span<double> total = stackalloc double[k];
        double within = 0, allSq = 0;
        for (int g = 0; g < groups; g++)
        {
            var sumV = sums.Slice(g * k, k);
            double sq = 0;
            for (int j = 0; j < k; j++)
            {
                sq += sumV[j] * sumV[j];
                total[j] += sumV[j];
            }
            double groupSq = sums[groups * k + g];
            within += 0.5 * (sq - groupSq);
            allSq += groupSq;
        }
        double totalSq = 0;
        foreach (double t in total) totalSq += t * t;
        double all = 0.5 * (totalSq - allSq);
        return PairScale * (within + CrossGroupStrength * (all - within));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double DenseEffect(int d, long x) => _dense[d].Gamma * Log1p(x);

    // log(1 + max(x, 0)), from a table for small counts (the same values Math.Log gives).
    private static readonly double[] Log1pTable = Enumerable.Range(0, 4096).Select(i => Math.Log(1 + (double)i)).ToArray();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Log1p(long x) => x <= 0 ? 0 : x < Log1pTable.Length ? Log1pTable[x] : Math.Log(1 + (double)x);

    /// <summary>Raw 32-bit value written for the value at index idx (0-based, after rank rotation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal uint RawValue(int f, long idx)
    {
        var p = _cat[f];
        if (p.Format == RawValueFormat.Hex8) return Permute32((uint)idx, p.PermKey1, p.PermKey2);
        if (p.Format == RawValueFormat.Derived || p.PermBits == 0) return (uint)idx;
        // keyed permutation of [0, n): cycle-walk a bijection of [0, 2^bits)
        uint x = (uint)idx;
        do x = PermuteBits(x, p.PermBits, p.PermKey1, p.PermKey2);
        while (x >= p.Cardinality);
        return x;
    }

    /// <summary>How far feature f's popularity ranks have rotated by row <paramref name="row"/> (0 without drift).</summary>
    internal long RotationOffset(int f, long row)
    {
        if (Drift == 0) return 0;
        var p = _cat[f];
        return (long)(Drift * row / 1e6 * p.RotationPerUnit) % p.Cardinality;
    }

    /// <summary>The inverse of <see cref="RawValue"/>: the value index behind a written raw value.</summary>
    internal long ValueIndex(int f, uint raw)
    {
        var p = _cat[f];
        if (p.Format == RawValueFormat.Hex8) return InversePermute32(raw, p.PermKey1, p.PermKey2);
        if (p.Format == RawValueFormat.Derived || p.PermBits == 0) return raw;
        uint x = raw;
        do x = InversePermuteBits(x, p.PermBits, p.PermKey1, p.PermKey2);
        while (x >= p.Cardinality);
        return x;
    }

    /// <summary>0-based popularity rank of a written value at row <paramref name="row"/>.</summary>
    internal long Rank(int f, uint raw, long row)
    {
        long n = _cat[f].Cardinality;
        if (_cat[f].Format == RawValueFormat.Derived) return Math.Min(raw, n - 1);
        long rank = ValueIndex(f, raw) - RotationOffset(f, row);
        return rank < 0 ? rank + n : rank;
    }

    public static double Sigmoid(double z) => 1.0 / (1.0 + Math.Exp(-z));

    /// <summary>
    /// The true click probability of one written data line (the slow, parsing path; for checks and tools). For
    /// Criteo lines the label field is ignored; for Avazu lines id and click are.
    /// </summary>
    public double TrueProbability(long rowIndex, string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        (double cos, double sin) = Rotation(rowIndex);
        double logit = GlobalBias;
        Span<double> sums = stackalloc double[SumsLength];
        if (Kind == SyntheticSchemaKind.Criteo)
        {
            var fields = line.Split('\t');
            if (fields.Length != 1 + _dense.Length + _cat.Length) throw new FormatException($"expected {1 + _dense.Length + _cat.Length} fields, got {fields.Length}.");
            for (int d = 0; d < _dense.Length; d++)
            {
                if (fields[1 + d].Length > 0) logit += DenseEffect(d, long.Parse(fields[1 + d], CultureInfo.InvariantCulture));
            }
            for (int f = 0; f < _cat.Length; f++)
            {
                var text = fields[1 + _dense.Length + f];
                if (text.Length == 0) continue;
                uint raw = uint.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                AddValue(f, raw, Rank(f, raw, rowIndex), cos, sin, ref logit, sums);
            }
        }
        else
        {
            var fields = line.Split(',');
            int columns = _cat.Count(c => c.Format != RawValueFormat.Derived);
            if (fields.Length != 3 + columns) throw new FormatException($"expected {3 + columns} fields, got {fields.Length}.");
            for (int f = 0; f < columns; f++)
            {
                var text = fields[3 + f];
                if (text.Length == 0) continue;
                uint raw = _cat[f].Format == RawValueFormat.Hex8
                    ? uint.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                    : uint.Parse(text, CultureInfo.InvariantCulture);
                AddValue(f, raw, Rank(f, raw, rowIndex), cos, sin, ref logit, sums);
            }
            var hour = fields[2];
            int hh = int.Parse(hour.AsSpan(6, 2), CultureInfo.InvariantCulture);
            var date = new DateOnly(2000 + int.Parse(hour.AsSpan(0, 2), CultureInfo.InvariantCulture),
                int.Parse(hour.AsSpan(2, 2), CultureInfo.InvariantCulture), int.Parse(hour.AsSpan(4, 2), CultureInfo.InvariantCulture));
            AddValue(columns, (uint)hh, hh, cos, sin, ref logit, sums);
            AddValue(columns + 1, (uint)date.DayOfWeek, (long)date.DayOfWeek, cos, sin, ref logit, sums);
        }
        return Sigmoid(logit + PairTerm(sums));
    }

    // uniform on [-1, 1) from the top 53 bits
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Centered(ulong h) => (h >> 11) * (2.0 / (1ul << 53)) - 1.0;

    // uniform on (-1, 1) from the low 16 bits
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Centered16(ulong h) => ((h & 0xFFFF) - 32767.5) * (1.0 / 32768);

    // A keyed bijection of 32-bit values: every step (xor, odd multiply, xorshift, add) is invertible.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Permute32(uint x, uint k1, uint k2)
    {
        x ^= k1;
        x *= 0x9E3779B1u;
        x ^= x >> 15;
        x *= 0x2C1B3C6Du;
        x ^= x >> 12;
        x += k2;
        x *= 0x297A2D39u;
        x ^= x >> 15;
        return x;
    }

    internal static uint InversePermute32(uint x, uint k1, uint k2)
    {
        x = UndoXorShift(x, 15);
        x *= ModInverse(0x297A2D39u);
        x -= k2;
        x = UndoXorShift(x, 12);
        x *= ModInverse(0x2C1B3C6Du);
        x = UndoXorShift(x, 15);
        x *= ModInverse(0x9E3779B1u);
        return x ^ k1;
    }

    // y = x ^ (x >> s) solved for x by fixed-point iteration: each pass fixes s more high bits.
    private static uint UndoXorShift(uint y, int s)
    {
        uint x = y;
        for (int done = s; done < 32; done += s) x = y ^ (x >> s);
        return x;
    }

    // Inverse of an odd number modulo 2^32 (Newton: each step doubles the correct low bits).
    private static uint ModInverse(uint a)
    {
        uint inv = a;
        for (int i = 0; i < 5; i++) inv *= 2 - a * inv;
        return inv;
    }

    // The same steps masked to `bits` bits: a bijection of [0, 2^bits).
    private static uint PermuteBits(uint x, int bits, uint k1, uint k2)
    {
        uint mask = bits >= 32 ? uint.MaxValue : (1u << bits) - 1;
        int r = (bits + 1) / 2;
        x = (x ^ k1) & mask;
        x = (x * 0x9E3779B1u) & mask;
        x ^= x >> r;
        x = (x + k2) & mask;
        x = (x * 0x2C1B3C6Du) & mask;
        x ^= x >> r;
        return x;
    }

    // r >= bits / 2, so x ^= x >> r undoes itself; multiplications undo with the inverse modulo 2^bits.
    private static uint InversePermuteBits(uint x, int bits, uint k1, uint k2)
    {
        uint mask = bits >= 32 ? uint.MaxValue : (1u << bits) - 1;
        int r = (bits + 1) / 2;
        x ^= x >> r;
        x = (x * ModInverse(0x2C1B3C6Du)) & mask;
        x = (x - k2) & mask;
        x ^= x >> r;
        x = (x * ModInverse(0x9E3779B1u)) & mask;
        return (x ^ k1) & mask;
    }

    private static ulong Fnv(string s)
    {
        ulong h = 0xCBF29CE484222325ul;
        foreach (char ch in s) h = (h ^ ch) * 0x100000001B3ul;
        return h;
    }

    internal sealed class CategoricalParams
    {
        public long Cardinality;
        public RawValueFormat Format;
        public double BiasScale, LatentScale;
        public ulong BiasKeyA, BiasKeyB, LatentKeyA, LatentKeyB;
        public uint PermKey1, PermKey2;
        public int PermBits;
        public long RotationPerUnit;
        public SignalShrinkage Shrink = SignalShrinkage.None;
    }

    internal sealed class DenseParams
    {
        public double LogMu, LogSigma, Gamma;
    }
}
