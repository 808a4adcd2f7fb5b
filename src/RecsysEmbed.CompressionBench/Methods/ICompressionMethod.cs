namespace RecsysEmbed.CompressionBench;

/// <summary>
/// A compression method of the suite: given a byte budget for the embedding weights, it solves its own parameters
/// (buckets, collisions, widths, ranks, precision ...) so the planned tables fit, or says why it cannot.
/// </summary>
public interface ICompressionMethod
{
    /// <summary>Name on the command line and in the outputs.</summary>
    string Name { get; }
    /// <summary>One line on what the method does.</summary>
    string Description { get; }
    /// <summary>
    /// One line on what the method does under a budget policy (the report's text). Methods the policy does not apply
    /// to describe themselves the same under every policy.
    /// </summary>
    string DescriptionFor(SuitePolicy policy) => Description;
    /// <summary>
    /// The tables that fit <paramref name="budgetBytes"/> of weights, or an unreachable solution with a reason. The
    /// hash, multihash, qr, ue and ue2 solvers follow the run's <see cref="SuiteOptions.Policy"/> (model.Options.Policy).
    /// </summary>
    MethodSolution Solve(SuiteModel model, long budgetBytes);
}

/// <summary>
/// A solved method: the config's table section (YAML), the memory_budget it needs (for families sized from it),
/// the parameters chosen (for the report), and the planned weight bytes. <see cref="Reachable"/> false means the
/// method cannot fit the budget; <see cref="Reason"/> says why.
/// </summary>
public sealed record MethodSolution(bool Reachable, string TablesYaml, long? MemoryBudget, IReadOnlyList<KeyValuePair<string, string>> Parameters,
                                    long WeightBytes, string? Reason)
{
    public static MethodSolution Unreachable(string reason) => new(false, "", null, [], 0, reason);

    public string ParameterText => string.Join("; ", Parameters.Select(p => $"{p.Key}={p.Value}"));
}

/// <summary>The registry of methods, by name.</summary>
public static class CompressionMethods
{
    public static IReadOnlyList<ICompressionMethod> All { get; } =
    [
        new FullMethod(), new HashMethod(1), new HashMethod(2), new QrMethod(), new MdMethod(), new UeMethod(), new UeMethod(probes: 2),
        new LpMethod(), new TtMethod(), new RobeMethod(),
    ];

    public static IReadOnlyList<string> Names { get; } = All.Select(m => m.Name).ToArray();

    public static ICompressionMethod Get(string name) =>
        All.FirstOrDefault(m => m.Name == name) ?? throw new SuiteInputException("--methods", $"'{name}' is unknown; expected some of {string.Join(", ", Names)}");
}
