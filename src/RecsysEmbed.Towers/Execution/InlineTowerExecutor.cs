namespace RecsysEmbed.Towers.Execution;

/// <summary>Towers one after another on the caller's thread (the baseline of tower-parallel execution).</summary>
public sealed class InlineTowerExecutor(IReadOnlyList<Tower> towers) : LocalTowerExecutor(towers)
{
    protected override void RunAll(Action<int> work)
    {
        for (int t = 0; t < LocalTowers.Count; t++) work(t);
    }
}
