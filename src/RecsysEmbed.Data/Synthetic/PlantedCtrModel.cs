using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Data.Synthetic;

/// <summary>
/// The ground truth behind a synthetic click log: a factorisation machine whose parameters are hashes, not
/// storage. For a row at index i with categorical raw values r_f (missing ones left out) and dense counts x_d:
/// <code>
///   logit(i) = b0 + sum_f w_f(r_f, i) + c * sum_{f&lt;g} &lt;v_f(r_f, i), v_g(r_g, i)&gt; + sum_d gamma_d * log(1 + max(x_d, 0))
///   p(i)     = 1 / (1 + exp(-logit))          label ~ Bernoulli(p)
///
///   w_f(r, i) = cos(theta_i) * a_f(r) + sin(theta_i) * a'_f(r)      a, a' uniform, from XXH-style mixes of (r, key_f)
///   v_f(r, i) = cos(theta_i) * u_f(r) + sin(theta_i) * u'_f(r)      k-dim, entries uniform, 16 bits each
///   theta_i   = (pi / 2) * drift * i / 10^6                         0 without drift
/// </code>
/// Keys derive from the seed, so any value's parameters are recomputed on demand (no table per value). The
/// pairwise sum uses the identity sum_{f&lt;g} &lt;v_f, v_g&gt; = (|sum v|^2 - sum |v|^2) / 2, O(F k) per row.
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
    private readonly DenseParams[] _dense;

    internal PlantedCtrModel(SyntheticSchemaKind kind, IReadOnlyList<SyntheticCategorical> categorical, IReadOnlyList<SyntheticDense> dense,
        ulong seed, int latentDim, double drift, long rows)
    {
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
        double pairSq = 0;
        for (int a = 0; a < f; a++)
            for (int b = a + 1; b < f; b++) pairSq += beta[a] * beta[a] * beta[b] * beta[b];
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

    /// <summary>Adds a categorical value's first-order weight to logit and its latent vector to the running sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void AddValue(int f, uint raw, double cos, double sin, ref double logit, Span<double> sumV, ref double sumSq)
    {
        var p = _cat[f];
        double w = p.BiasScale * Centered(BucketHash.Mix(raw, p.BiasKeyA));
        if (sin != 0) w = cos * w + sin * p.BiasScale * Centered(BucketHash.Mix(raw, p.BiasKeyB));
        logit += w;
        int k = sumV.Length;
        for (int j = 0; j < k; j += 4)
        {
            ulong ha = BucketHash.Mix(raw, p.LatentKeyA + (ulong)j);
            ulong hb = sin != 0 ? BucketHash.Mix(raw, p.LatentKeyB + (ulong)j) : 0;
            int end = Math.Min(4, k - j);
            for (int t = 0; t < end; t++)
            {
                double v = p.LatentScale * Centered16(ha >> (16 * t));
                if (sin != 0) v = cos * v + sin * p.LatentScale * Centered16(hb >> (16 * t));
                sumV[j + t] += v;
                sumSq += v * v;
            }
        }
    }

    /// <summary>The pairwise term from the running sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal double PairTerm(ReadOnlySpan<double> sumV, double sumSq)
    {
        double sq = 0;
        foreach (double s in sumV) sq += s * s;
        return PairScale * 0.5 * (sq - sumSq);
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
        Span<double> sumV = stackalloc double[LatentDim];
        double sumSq = 0;
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
                if (text.Length > 0) AddValue(f, uint.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture), cos, sin, ref logit, sumV, ref sumSq);
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
                AddValue(f, raw, cos, sin, ref logit, sumV, ref sumSq);
            }
            var hour = fields[2];
            int hh = int.Parse(hour.AsSpan(6, 2), CultureInfo.InvariantCulture);
            var date = new DateOnly(2000 + int.Parse(hour.AsSpan(0, 2), CultureInfo.InvariantCulture),
                int.Parse(hour.AsSpan(2, 2), CultureInfo.InvariantCulture), int.Parse(hour.AsSpan(4, 2), CultureInfo.InvariantCulture));
            AddValue(columns, (uint)hh, cos, sin, ref logit, sumV, ref sumSq);
            AddValue(columns + 1, (uint)date.DayOfWeek, cos, sin, ref logit, sumV, ref sumSq);
        }
        return Sigmoid(logit + PairTerm(sumV, sumSq));
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
    }

    internal sealed class DenseParams
    {
        public double LogMu, LogSigma, Gamma;
    }
}
