namespace RecsysEmbed.Core.Hashing;

/// <summary>What <see cref="IdVocabulary.Assign"/> did with an (id, index) pair.</summary>
public enum VocabularyAssignment
{
    /// <summary>The id was new and the index free: the mapping is now visible to <see cref="IdVocabulary.Find"/>.</summary>
    Added,
    /// <summary>The vocabulary already maps the id to that index (a re-delivered entry): nothing changed.</summary>
    Known,
    /// <summary>The id is known under another index, or the index belongs to another id: refused, nothing changed.</summary>
    Conflict,
}
