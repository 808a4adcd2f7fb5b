using RecsysEmbed.Core.Hashing;

namespace RecsysEmbed.Tests.Hashing;

/// <summary>A replica vocabulary (the lookup service) learning the trainer's entries with Assign.</summary>
public class IdVocabularyAssignTests
{
    [Fact]
    public void Assigned_ids_are_found_at_their_index_and_unknown_ids_still_overflow()
    {
        var v = new IdVocabulary("C1", capacity: 100, seed: 3);
        long unseen = v.Find(777);
        Assert.Equal(VocabularyAssignment.Added, v.Assign(42, 57));
        Assert.Equal(VocabularyAssignment.Added, v.Assign(5_000_000_000L, 0));
        Assert.Equal(57, v.Find(42));
        Assert.Equal(0, v.Find(5_000_000_000L));
        Assert.Equal(unseen, v.Find(777));
        Assert.Equal(2, v.Count);
        Assert.Equal(58, v.Length);
    }

    [Fact]
    public void Assigning_the_same_entry_again_changes_nothing()
    {
        var v = new IdVocabulary("C1", capacity: 10);
        Assert.Equal(VocabularyAssignment.Added, v.Assign(9, 4));
        Assert.Equal(VocabularyAssignment.Known, v.Assign(9, 4));
        Assert.Equal(1, v.Count);
        Assert.Equal([(9L, 4)], v.Entries().ToArray());
    }

    [Fact]
    public void A_conflicting_entry_is_refused_and_the_held_mapping_kept()
    {
        var v = new IdVocabulary("C1", capacity: 10);
        long overflowOf10 = v.Find(10);
        Assert.Equal(VocabularyAssignment.Added, v.Assign(9, 4));
        Assert.Equal(VocabularyAssignment.Conflict, v.Assign(9, 5)); // known id, other index
        Assert.Equal(VocabularyAssignment.Conflict, v.Assign(10, 4)); // index owned by another id
        Assert.Equal(4, v.Find(9));
        Assert.Equal(overflowOf10, v.Find(10)); // 10 stays unknown: still its overflow row
        Assert.Equal(1, v.Count);
        Assert.Equal([(9L, 4)], v.Entries().ToArray());
    }

    [Fact]
    public void Indices_beyond_capacity_and_negative_ids_are_refused_naming_the_field()
    {
        var v = new IdVocabulary("C1", capacity: 10);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => v.Assign(1, 10)).ParamName);
        Assert.Equal("index", Assert.Throws<ArgumentOutOfRangeException>(() => v.Assign(1, -1)).ParamName);
        Assert.Equal("id", Assert.Throws<ArgumentOutOfRangeException>(() => v.Assign(-1, 0)).ParamName);
        Assert.Equal(0, v.Count);
    }

    [Fact]
    public void EntriesFrom_lists_the_trainers_growth_in_index_order()
    {
        var v = new IdVocabulary("C1", capacity: 1000);
        var ids = Enumerable.Range(0, 300).Select(i => (long)(i * 2_654_435_761L % 1_000_003)).Distinct().ToArray();
        foreach (long id in ids) v.IndexOf(id);
        Assert.Equal(ids.Length, v.Length);
        var tail = v.EntriesFrom(100).ToArray();
        Assert.Equal(Enumerable.Range(100, ids.Length - 100), tail.Select(e => e.Index));
        Assert.Equal(ids[100..], tail.Select(e => e.Id));
        Assert.Equal(ids[100..], v.IdsFrom(100).ToArray());
        Assert.Empty(v.EntriesFrom(ids.Length));
    }

    [Fact]
    public void A_replica_with_holes_lists_only_assigned_indices_and_restores_in_index_order()
    {
        var v = new IdVocabulary("C1", capacity: 1000);
        Assert.Equal(VocabularyAssignment.Added, v.Assign(70, 700));
        Assert.Equal(VocabularyAssignment.Added, v.Assign(3, 3));
        Assert.Equal([(3L, 3), (70L, 700)], v.Entries().ToArray());
        Assert.Equal(IdVocabulary.NoId, v.IdsFrom(4)[0]);
        var copy = new IdVocabulary("C1", capacity: 1000);
        copy.Restore(v.Entries(), overflowed: 0);
        Assert.Equal(700, copy.Find(70));
        Assert.Equal(v.Entries().ToArray(), copy.Entries().ToArray());
    }

    /// <summary>
    /// One writer assigns 50,000 entries (indices scattered) while three readers Find them: a reader sees either the
    /// entry's index or the overflow row the id had before, never anything else; after the writer, all are exact.
    /// </summary>
    [Fact]
    public void Concurrent_readers_see_the_right_index_or_the_overflow_row_while_one_writer_assigns()
    {
        const int n = 50_000;
        var v = new IdVocabulary("C1", capacity: n, seed: 5);
        var ids = new long[n];
        var index = new int[n];
        var overflow = new long[n];
        var rng = new Random(11);
        var used = new HashSet<long>();
        for (int i = 0; i < n; i++)
        {
            do ids[i] = rng.NextInt64(0, long.MaxValue); while (!used.Add(ids[i]));
            index[i] = (int)((i * 7919L) % n); // 7919 is prime to n: a permutation of 0..n-1
            overflow[i] = v.Find(ids[i]);
        }
        int writerDone = 0;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var readers = Enumerable.Range(0, 3).Select(t => new Thread(() =>
        {
            var r = new Random(t);
            while (Volatile.Read(ref writerDone) == 0 && failures.IsEmpty)
            {
                int i = r.Next(n);
                long found = v.Find(ids[i]);
                if (found != index[i] && found != overflow[i]) failures.Enqueue($"id {ids[i]}: found {found}, expected {index[i]} or overflow {overflow[i]}");
            }
        })).ToArray();
        foreach (var t in readers) t.Start();
        for (int i = 0; i < n; i++) Assert.Equal(VocabularyAssignment.Added, v.Assign(ids[i], index[i]));
        Volatile.Write(ref writerDone, 1);
        foreach (var t in readers) Assert.True(t.Join(TimeSpan.FromMinutes(2)), "reader hung");
        Assert.Empty(failures);
        for (int i = 0; i < n; i++) Assert.Equal(index[i], v.Find(ids[i]));
        Assert.Equal(n, v.Count);
    }
}
