using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Torch;

/// <summary>
/// Proves TorchSharp's native library loads and computes on this machine (it needs the
/// GLIBCXX patch from build/TorchSharpNativeFix.targets on Debian 12), by checking results
/// against naive C# references.
/// </summary>
public class TorchSmokeTests
{
    [Fact]
    public void Matmul_MatchesNaiveTripleLoop()
    {
        // Odd sizes so no dimension is a multiple of a vector width.
        const int m = 7, k = 13, n = 5;
        var rng = new Random(42);
        float[] a = RandomArray(rng, m * k), b = RandomArray(rng, k * n);

        using var scope = NewDisposeScope();
        float[] actual = matmul(tensor(a, [m, k]), tensor(b, [k, n])).data<float>().ToArray();

        var expected = new float[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0;
                for (int p = 0; p < k; p++) sum += a[i * k + p] * b[p * n + j];
                expected[i * n + j] = (float)sum;
            }

        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f, $"element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void EmbeddingBagSum_MatchesManualRowSums()
    {
        const int rows = 6, dim = 3;
        var weights = new float[rows * dim];
        for (int i = 0; i < weights.Length; i++) weights[i] = i * 0.5f - 2f;
        // Bags: {0,2,4}, {} (empty, sums to zero), {1}, {5,5,3} (repeated id counts twice).
        long[] ids = [0, 2, 4, 1, 5, 5, 3];
        long[] offsets = [0, 3, 3, 4];

        using var scope = NewDisposeScope();
        using var bag = nn.EmbeddingBag(rows, dim, mode: EmbeddingBagMode.Sum);
        using (no_grad())
            bag.weight!.copy_(tensor(weights, [rows, dim]));
        Tensor output = bag.call(tensor(ids), tensor(offsets));

        Assert.Equal(new long[] { offsets.Length, dim }, output.shape);
        float[] actual = output.data<float>().ToArray();
        for (int bagIndex = 0; bagIndex < offsets.Length; bagIndex++)
        {
            long start = offsets[bagIndex], end = bagIndex + 1 < offsets.Length ? offsets[bagIndex + 1] : ids.Length;
            for (int d = 0; d < dim; d++)
            {
                float expected = 0;
                for (long j = start; j < end; j++) expected += weights[ids[j] * dim + d];
                Assert.Equal(expected, actual[bagIndex * dim + d], 5);
            }
        }
    }

    [Fact]
    public void NativeLibrary_LoadsAndNoLongerRequiresGlibcxx3432()
    {
        // The real proof is that torch loads at all; the flag check says why it does.
        using (var t = ones(2, 2)) Assert.Equal(4f, t.sum().item<float>());

        if (!OperatingSystem.IsLinux()) return; // the patch only applies to the Linux ELF

        string[] libs = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories);
        Assert.NotEmpty(libs);
        foreach (string lib in libs)
        {
            ushort? flags = ElfVerneed.FindFlags(File.ReadAllBytes(lib), "GLIBCXX_3.4.32");
            // Absent is fine too (a future TorchSharp may not need it); present must be weak.
            if (flags is { } f)
                Assert.True((f & ElfVerneed.VerFlagWeak) != 0, $"{lib}: GLIBCXX_3.4.32 verneed flags {f:x} lack the weak bit");
        }
    }

    static float[] RandomArray(Random rng, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>Reads the flags of one version requirement in an ELF64 little-endian .gnu.version_r section.</summary>
    static class ElfVerneed
    {
        public const ushort VerFlagWeak = 2;
        const uint ShtGnuVerneed = 0x6ffffffe;

        public static ushort? FindFlags(ReadOnlySpan<byte> elf, string version)
        {
            Assert.True(elf.Length >= 64 && elf[0] == 0x7f && elf[1] == 'E' && elf[4] == 2 && elf[5] == 1, "not a little-endian ELF64 file");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            for (int i = 0; i < shnum; i++)
            {
                int sh = (int)(shoff + (long)i * shentsize);
                if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
                // sh_link of .gnu.version_r names the string table holding the version names.
                int strtab = (int)U64(elf, (int)(shoff + (long)U32(elf, sh + 0x28) * shentsize) + 0x18);
                int vn = (int)U64(elf, sh + 0x18);
                for (uint n = 0, count = U32(elf, sh + 0x2C); n < count; n++)
                {
                    int aux = vn + (int)U32(elf, vn + 8);
                    for (int a = 0, auxCount = U16(elf, vn + 2); a < auxCount; a++)
                    {
                        if (CString(elf, strtab + (int)U32(elf, aux + 8)) == version) return U16(elf, aux + 4);
                        aux += (int)U32(elf, aux + 12);
                    }
                    vn += (int)U32(elf, vn + 12);
                }
            }
            return null;
        }

        static ushort U16(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt16LittleEndian(b[o..]);
        static uint U32(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt32LittleEndian(b[o..]);
        static ulong U64(ReadOnlySpan<byte> b, int o) => BinaryPrimitives.ReadUInt64LittleEndian(b[o..]);
        static string CString(ReadOnlySpan<byte> b, int o) => Encoding.ASCII.GetString(b[o..].Slice(0, b[o..].IndexOf((byte)0)));
    }
}
