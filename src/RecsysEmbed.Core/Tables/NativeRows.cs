using System.Runtime.InteropServices;

namespace RecsysEmbed.Core.Tables;

/// <summary>
/// Native buffers for table rows. Large buffers are 2 MiB aligned and advised as transparent huge pages on Linux:
/// random row gathers over hundreds of MiB miss the TLB on nearly every row with 4 KiB pages, and huge pages
/// removed most of that cost in the forward benchmark (benchmarks/RESULTS.md).
/// </summary>
internal static unsafe partial class NativeRows
{
    private const long HugePage = 2 << 20;
    private const int MadvHugePage = 14;

    public static float* Allocate(long floats)
    {
        long bytes = Math.Max(floats, 1) * sizeof(float);
        if (bytes < HugePage || !OperatingSystem.IsLinux())
            return (float*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        long rounded = (bytes + HugePage - 1) / HugePage * HugePage;
        var p = (float*)NativeMemory.AlignedAlloc((nuint)rounded, (nuint)HugePage);
        _ = Madvise(p, (nuint)rounded, MadvHugePage); // advisory: failure just means 4 KiB pages
        return p;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(void* address, nuint length, int advice);
}
