using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Tests.Hashing;

public class IdVocabularyFindTests
{
    [Fact]
    public void Find_returns_assigned_indices_and_never_assigns()
    {
        var v = new IdVocabulary("C1", capacity: 4, seed: 3);
        long[] ids = [900, 17, 5_000_000_000L, 3];
        var indices = ids.Select(v.IndexOf).ToArray();
        for (int i = 0; i < ids.Length; i++) Assert.Equal(indices[i], v.Find(ids[i]));
        long unseen = v.Find(123456789);
        Assert.Equal(4, v.Count);
        Assert.Equal(0, v.Overflowed);
        // A full vocabulary gives an unseen id the same shared row Find reports.
        Assert.Equal(unseen, v.IndexOf(123456789));
        Assert.InRange(unseen, 0, 3);
    }
}
