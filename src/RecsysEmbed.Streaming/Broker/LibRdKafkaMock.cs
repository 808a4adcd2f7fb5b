using System.Runtime.InteropServices;

namespace RecsysEmbed.Streaming.Broker;

/// <summary>
/// The slice of librdkafka's C API that runs its built-in mock cluster (rdkafka_mock.h). The library is the one
/// Confluent.Kafka ships (librdkafka.redist); "librdkafka" resolves through the app's deps.json native assets.
/// Error results are rd_kafka_resp_err_t, whose values are Confluent.Kafka's <c>ErrorCode</c>.
/// <para>"librdkafka" must bind to the very library Confluent.Kafka loaded: the package ships several Linux builds
/// (glibc with system SASL, a self-contained centos8 one, musl) and Confluent.Kafka picks the one that loads. The
/// resolver below finds that file among the process's mapped libraries after <c>Library.Load()</c>.</para>
/// </summary>
internal static partial class LibRdKafkaMock
{
    private const string Lib = "librdkafka";

    static LibRdKafkaMock() => NativeLibrary.SetDllImportResolver(typeof(LibRdKafkaMock).Assembly, Resolve);

    /// <summary>Loads Confluent.Kafka's librdkafka (if not yet) so that the P/Invokes below bind to it.</summary>
    public static void EnsureLoaded()
    {
        Confluent.Kafka.Library.Load();
        _ = rd_kafka_err2str(0);
    }

    private static nint Resolve(string name, System.Reflection.Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Lib) return 0;
        if (OperatingSystem.IsLinux() && LoadedLibrdkafka() is { } path && NativeLibrary.TryLoad(path, out nint handle)) return handle;
        return NativeLibrary.TryLoad(name, assembly, searchPath, out nint fallback) ? fallback : 0;
    }

    // The path of the librdkafka*.so mapped into this process, if any.
    private static string? LoadedLibrdkafka()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                string path = line[slash..];
                if (Path.GetFileName(path).EndsWith("librdkafka.so", StringComparison.Ordinal)) return path;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    public const int ProducerType = 0;

    [LibraryImport(Lib)]
    public static partial nint rd_kafka_conf_new();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_conf_set(nint conf, string name, string value, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_conf_destroy(nint conf);

    /// <summary>Takes ownership of <paramref name="conf"/> on success only.</summary>
    [LibraryImport(Lib)]
    public static partial nint rd_kafka_new(int type, nint conf, byte[] errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_destroy(nint rk);

    [LibraryImport(Lib)]
    public static partial nint rd_kafka_mock_cluster_new(nint rk, int brokerCount);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_mock_cluster_destroy(nint cluster);

    [LibraryImport(Lib)]
    public static partial nint rd_kafka_mock_cluster_bootstraps(nint cluster);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int rd_kafka_mock_topic_create(nint cluster, string topic, int partitions, int replicationFactor);

    [LibraryImport(Lib)]
    public static partial int rd_kafka_mock_broker_set_down(nint cluster, int brokerId);

    [LibraryImport(Lib)]
    public static partial int rd_kafka_mock_broker_set_up(nint cluster, int brokerId);

    [LibraryImport(Lib)]
    public static partial int rd_kafka_mock_broker_set_rtt(nint cluster, int brokerId, int rttMs);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_mock_push_request_errors_array(nint cluster, short apiKey, nuint count, int[] errors);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_mock_clear_request_errors(nint cluster, short apiKey);

    [LibraryImport(Lib)]
    public static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(nint cluster, int delayMs);

    [LibraryImport(Lib)]
    public static partial nint rd_kafka_err2str(int err);

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8(rd_kafka_err2str(err)) ?? $"error {err}";
}
