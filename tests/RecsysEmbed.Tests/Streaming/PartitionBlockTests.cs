using Confluent.Kafka;
using RecsysEmbed.Data.Schema;
using RecsysEmbed.Streaming.Training;

namespace RecsysEmbed.Tests.Streaming;

public class PartitionBlockTests
{
    private static PartitionBlock Block(long start, int size = 4) => new(new TopicPartition("t", 0), start, size, DatasetSchema.Criteo, 1);

    [Fact]
    public void Blocks_AreAlignedToOffsets_WhereverTheyStart()
    {
        var b = Block(6);
        Assert.Equal(8, b.BlockEnd);       // [6, 8): the rest of block [4, 8)
        Assert.Equal(0, b.Admit(6)); b.Consumed();
        Assert.Equal(0, b.Admit(7)); b.Consumed();
        Assert.True(b.IsComplete);
        b.Advance();
        Assert.Equal((8, 8, 12L), (b.Trained, b.Next, b.BlockEnd));
    }

    [Fact]
    public void UnknownStart_TakesTheFirstOffsetSeen_WithoutReportingLoss()
    {
        var b = Block(-1);
        Assert.Equal(0, b.Pending);
        Assert.Equal(0, b.Admit(10));
        Assert.Equal((10, 10, 12L), (b.Trained, b.Next, b.BlockEnd));
    }

    [Fact]
    public void AGapInsideTheBlock_IsCountedAsLost()
    {
        var b = Block(0);
        Assert.Equal(0, b.Admit(0)); b.Consumed();
        Assert.Equal(2, b.Admit(3)); b.Consumed();
        Assert.True(b.IsComplete);
        Assert.Equal(2, b.Lost);
    }

    [Fact]
    public void AGapAcrossTheBlockEnd_CompletesTheBlock_ThenTheRecordIsOfferedAgain()
    {
        var b = Block(0);
        Assert.Equal(0, b.Admit(0)); b.Consumed();
        Assert.Equal(3, b.Admit(9));      // offsets 1..3 lost; the block [0, 4) is complete
        Assert.True(b.IsComplete);
        b.Advance();
        Assert.Equal(4, b.Admit(9));      // block [4, 8) entirely lost
        Assert.True(b.IsComplete);
        b.Advance();
        Assert.Equal(1, b.Admit(9));      // offset 8 lost, 9 is next
        Assert.Equal(9, b.Next);
        Assert.Equal(1, b.Lost);
    }

    [Fact]
    public void AnOffsetAlreadySeen_IsRefused()
    {
        var b = Block(0);
        Assert.Equal(0, b.Admit(0)); b.Consumed();
        Assert.Equal(-1, b.Admit(0));
        Assert.Equal(1, b.Next);
    }

    [Fact]
    public void Reset_DropsThePartialBlock_AndRestartsAtTheTrainedOffset()
    {
        var b = Block(0);
        b.Admit(0);
        b.Builder.BeginSample(1f, 0);
        b.Builder.EndSample();
        b.RecordIds.Add(42);
        b.Consumed();
        Assert.Equal(1, b.Pending);
        b.Reset(b.Trained);
        Assert.Equal((0, 0, 4L, 0, 0), (b.Trained, b.Next, b.BlockEnd, b.Builder.SampleCount, b.RecordIds.Count));
    }
}
