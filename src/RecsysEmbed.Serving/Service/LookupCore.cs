using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.Collections;
using RecsysEmbed.Serving.Metrics;
using RecsysEmbed.Serving.Model;
using RecsysEmbed.Serving.Protos;
using RecsysEmbed.Serving.Updates;

namespace RecsysEmbed.Serving.Service;

/// <summary>
/// The service's calls on protobuf messages, shared by the gRPC service and the HTTP/JSON endpoints: validation
/// (a clear <see cref="RequestException"/> naming the field), resolution through the lookup engine, scoring.
/// </summary>
public sealed class LookupCore
{
    private readonly LookupEngine _engine;
    private readonly DenseScorer? _scorer;
    private readonly LookupServiceOptions _options;

    public LookupCore(LookupEngine engine, DenseScorer? scorer, ServingMetrics metrics, LookupServiceOptions options, UpdateApplier? applier = null)
    {
        _engine = engine;
        _scorer = scorer;
        Metrics = metrics;
        _options = options;
        Applier = applier;
        if (engine.Store.Cache is not null || engine.Store.Resident is not null) metrics.StoreMemoryReads = engine.Store.CacheCounts;
    }

    public ServingMetrics Metrics { get; }
    public UpdateApplier? Applier { get; set; }
    public ServingModel Model => _engine.Model;
    public LookupEngine Engine => _engine;

    public LookupResponse Lookup(LookupRequest request) => Timed("Lookup", () => LookupOne(request, "features", null));

    /// <summary>
    /// One message of a LookupStream: the same lookup as <see cref="Lookup"/>, counted and timed as method
    /// "LookupStream", written into <paramref name="reuse"/> (the stream's response, vectors and buffer, refilled for
    /// each message: the caller must be done with the previous response). A refused request does not throw: the
    /// response carries <see cref="LookupResponse.Error"/> (INVALID_ARGUMENT naming the field), so the stream goes on.
    /// </summary>
    internal LookupResponse LookupStreamMessage(LookupRequest request, StreamBuffers reuse) => StreamLookup("LookupStream", request, "features", reuse);

    /// <summary>
    /// One message of a BatchLookupStream: each request served as by <see cref="LookupStreamMessage"/> (counted and
    /// timed as method "BatchLookupStream"; a refusal names <c>requests[i].features...</c> and leaves the others served),
    /// written into <paramref name="reuse"/>. More than <see cref="LookupServiceOptions.MaxBatch"/> requests: all refused.
    /// </summary>
    internal BatchLookupResponse BatchStreamMessage(BatchLookupRequest request, BatchStreamBuffers reuse)
    {
        int n = request.Requests.Count;
        if (n > _options.MaxBatch)
        {
            Metrics.Request("BatchLookupStream", "INVALID_ARGUMENT");
            return reuse.RefuseAll(n, InvalidArgument, "requests", $"requests: {n} requests in one message; at most {_options.MaxBatch}.");
        }
        var response = reuse.Response;
        response.Responses.Clear();
        var query = _engine.Rent(); // one for the whole message
        try
        {
            for (int i = 0; i < n; i++)
                response.Responses.Add(StreamLookup("BatchLookupStream", request.Requests[i], reuse.FieldOf(i), reuse.Item(i), query));
        }
        finally
        {
            _engine.Return(query);
        }
        return response;
    }

    private LookupResponse StreamLookup(string method, LookupRequest request, string field, StreamBuffers reuse, LookupQuery? query = null)
    {
        try
        {
            return Timed(method, (Core: this, request, field, reuse, query), static s => s.Core.LookupOne(s.request, s.field, s.reuse, s.query));
        }
        catch (RequestException e)
        {
            return reuse.Refused(InvalidArgument, e.Field, e.Message);
        }
    }

    /// <summary>gRPC status codes a stream message's <see cref="LookupError"/> carries.</summary>
    internal const int InvalidArgument = 3, ResourceExhausted = 8;

    /// <summary>What one LookupStream reuses from message to message: the response, its vectors, the output buffer.</summary>
    internal sealed class StreamBuffers
    {
        private const int MaxKeptFloats = 1 << 16; // a huge PER_VALUE answer is not kept for the stream's lifetime
        public readonly LookupResponse Response = new();
        public readonly List<FeatureVector> Vectors = [];
        private float[] _output = [];
        private byte[] _packed = [];

        public float[] Output(int length)
        {
            if (_output.Length >= length) return _output;
            var buffer = new float[length];
            if (length <= MaxKeptFloats) _output = buffer;
            return buffer;
        }

        /// <summary>Room for <paramref name="length"/> floats as bytes (a packed answer is wrapped, not copied).</summary>
        public byte[] PackedOutput(int length)
        {
            if (_packed.Length >= length * sizeof(float)) return _packed;
            var buffer = new byte[length * sizeof(float)];
            if (length <= MaxKeptFloats) _packed = buffer;
            return buffer;
        }

        public LookupResponse Refused(int code, string field, string message)
        {
            Response.Features.Clear();
            Response.Packed = ByteString.Empty;
            Response.Dims.Clear();
            Response.MaxRowVersion = 0;
            Response.Error = new LookupError { Code = code, Field = field, Message = message };
            return Response;
        }
    }

    /// <summary>What one BatchLookupStream reuses: the response and one <see cref="StreamBuffers"/> per position.</summary>
    internal sealed class BatchStreamBuffers
    {
        public readonly BatchLookupResponse Response = new();
        private readonly List<StreamBuffers> _items = [];
        private readonly List<string> _fields = [];
        private readonly StreamBuffers _refused = new();

        public StreamBuffers Item(int i)
        {
            while (_items.Count <= i) _items.Add(new StreamBuffers());
            return _items[i];
        }

        /// <summary>"requests[i].features", made once per position.</summary>
        public string FieldOf(int i)
        {
            while (_fields.Count <= i) _fields.Add($"requests[{_fields.Count}].features");
            return _fields[i];
        }

        /// <summary>Every one of <paramref name="count"/> requests refused alike (one shared response message, written count times).</summary>
        public BatchLookupResponse RefuseAll(int count, int code, string field, string message)
        {
            var refused = _refused.Refused(code, field, message);
            Response.Responses.Clear();
            for (int i = 0; i < count; i++) Response.Responses.Add(refused);
            return Response;
        }
    }

    public BatchLookupResponse BatchLookup(BatchLookupRequest request) => Timed("BatchLookup", () =>
    {
        if (request.Requests.Count > _options.MaxBatch)
            throw new RequestException("requests", $"{request.Requests.Count} requests in one call; at most {_options.MaxBatch}.");
        var response = new BatchLookupResponse();
        for (int i = 0; i < request.Requests.Count; i++) response.Responses.Add(LookupOne(request.Requests[i], $"requests[{i}].features", null));
        return response;
    });

    public ScoreResponse Score(ScoreRequest request) => Timed("Score", () =>
    {
        if (_scorer is null) throw new RequestException("examples", "this service has no dense model loaded; Score is unavailable.");
        int batch = request.Examples.Count;
        if (batch == 0) throw new RequestException("examples", "no example to score.");
        if (batch > _options.MaxBatch) throw new RequestException("examples", $"{batch} examples in one call; at most {_options.MaxBatch}.");
        var model = _engine.Model;
        int width = model.EmbeddingWidth, d = model.DenseCount;
        var embeddings = new float[batch * width];
        var dense = new float[batch * d];
        long maxVersion = -1;
        var query = _engine.Rent();
        try
        {
            for (int e = 0; e < batch; e++)
            {
                var example = request.Examples[e];
                if (example.Dense.Count != d)
                    throw new RequestException($"examples[{e}].dense", $"has {example.Dense.Count} values; the model takes {d} dense features ({string.Join(", ", model.Config.DenseFeatures)}).");
                for (int j = 0; j < d; j++) dense[e * d + j] = example.Dense[j];
                FillScoreQuery(query, example.Features, $"examples[{e}].features");
                maxVersion = Math.Max(maxVersion, _engine.Execute(query, LookupShape.Pooled, embeddings.AsSpan(e * width, width)));
                Metrics.RowsServed.Add(query.IdCount);
            }
        }
        finally
        {
            _engine.Return(query);
        }
        var probabilities = new float[batch];
        long version = _scorer.Score(embeddings, dense, batch, probabilities);
        var response = new ScoreResponse { DenseModelVersion = version, MaxRowVersion = maxVersion };
        response.Probabilities.Add(probabilities);
        return response;
    });

    public ModelInfoResponse ModelInfo()
    {
        var model = _engine.Model;
        var info = new ModelInfoResponse
        {
            Model = model.Config.Name,
            DenseModelVersion = _scorer?.Version ?? -1,
            DenseFeatures = model.DenseCount,
            Rows = _engine.Store.Catalog.TotalRows,
            StalenessBound = _options.StalenessBound,
            MaxValuesPerFeature = _options.MaxValuesPerFeature,
        };
        foreach (var f in model.Features)
        {
            info.Features.Add(new ModelFeature
            {
                Name = f.Name, Table = f.Addressing.TableName, Family = f.Addressing.Family, Dim = f.OutputDim, Pooling = f.Pooling.ToString().ToLowerInvariant(),
            });
        }
        return info;
    }

    public HealthResponse Health() => new()
    {
        Status = "serving",
        UpdatesApplied = Metrics.UpdatesApplied.Value,
        DenseModelVersion = _scorer?.Version ?? -1,
    };

    /// <summary>
    /// A new response, or (<paramref name="reuse"/> given) the stream's response refilled in place; on
    /// <paramref name="rented"/> when given (a batch's requests share one query), else on a query of its own.
    /// </summary>
    private LookupResponse LookupOne(LookupRequest request, string field, StreamBuffers? reuse, LookupQuery? rented = null)
    {
        var shape = request.Mode == LookupMode.PerValue ? LookupShape.PerValue : LookupShape.Pooled;
        var query = rented ?? _engine.Rent();
        try
        {
            if (request.Compact is { } compact)
            {
                if (request.Features.Count > 0)
                    throw new RequestException(field, "the request sets both features and compact; send one or the other.");
                FillCompactQuery(query, compact, field);
            }
            else FillQuery(query, request.Features, field);
            int length = _engine.OutputLength(query, shape);
            LookupResponse response;
            if (reuse is null) response = new LookupResponse();
            else
            {
                response = reuse.Response;
                response.Features.Clear();
                response.Dims.Clear();
                response.Packed = ByteString.Empty;
                response.Error = null;
            }
            if (request.Packed)
            {
                // The engine writes straight into the bytes the response sends (little-endian fp32, as on every platform .NET runs this service on).
                var bytes = reuse is null ? new byte[length * sizeof(float)] : reuse.PackedOutput(length);
                response.MaxRowVersion = _engine.Execute(query, shape, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(0, length * sizeof(float))));
                Metrics.RowsServed.Add(query.IdCount);
                response.Packed = UnsafeByteOperations.UnsafeWrap(bytes.AsMemory(0, length * sizeof(float)));
                for (int i = 0; i < query.FeatureCount; i++) response.Dims.Add(_engine.Model.Features[query.FeatureAt(i)].OutputDim);
                return response;
            }
            var output = reuse is null ? new float[length] : reuse.Output(length);
            long version = _engine.Execute(query, shape, output.AsSpan(0, length));
            Metrics.RowsServed.Add(query.IdCount);
            response.MaxRowVersion = version;
            int at = 0;
            for (int i = 0; i < query.FeatureCount; i++)
            {
                var binding = _engine.Model.Features[query.FeatureAt(i)];
                int n = shape == LookupShape.Pooled ? binding.OutputDim : binding.OutputDim * query.ValueCount(i);
                FeatureVector vector;
                if (reuse is null) vector = new FeatureVector();
                else if (i < reuse.Vectors.Count) (vector = reuse.Vectors[i]).Values.Clear();
                else reuse.Vectors.Add(vector = new FeatureVector());
                vector.Name = binding.Name;
                vector.Dim = binding.OutputDim;
                vector.Values.AddRange(new ReadOnlySpan<float>(output, at, n)); // copied in one block
                response.Features.Add(vector);
                at += n;
            }
            return response;
        }
        finally
        {
            if (rented is null) _engine.Return(query);
        }
    }

    /// <summary>Adds the request's features in request order.</summary>
    private void FillQuery(LookupQuery query, RepeatedField<FeatureValues> features, string field)
    {
        if (features.Count > _options.MaxFeaturesPerRequest)
            throw new RequestException(field, $"{features.Count} features in one request; at most {_options.MaxFeaturesPerRequest}.");
        query.Clear();
        Span<bool> seen = stackalloc bool[_engine.Model.Features.Count];
        for (int i = 0; i < features.Count; i++)
        {
            var fv = features[i];
            var binding = _engine.Model.Feature(fv.Name)
                ?? throw new RequestException($"{field}[{i}].name", $"unknown feature '{fv.Name}'; the model serves {string.Join(", ", _engine.Model.Features.Select(f => f.Name))}.");
            int index = binding.Index;
            if (seen[index]) throw new RequestException($"{field}[{i}].name", $"feature '{fv.Name}' is listed twice.");
            seen[index] = true;
            AddValues(query, index, binding, fv, field, i);
        }
    }

    /// <summary>"compact" for a lone request, "requests[i].compact" inside a batch (made only for an error).</summary>
    private static string CompactField(string featuresField) =>
        featuresField.EndsWith(".features", StringComparison.Ordinal) ? featuresField[..^".features".Length] + ".compact" : "compact";

    /// <summary>
    /// Adds a <see cref="CompactFeatures"/> request's features in request order: each by its model position, its values
    /// hashed from their UTF-8 bytes as the named form hashes a string's. Every inconsistency names its field.
    /// </summary>
    private void FillCompactQuery(LookupQuery query, CompactFeatures compact, string featuresField)
    {
        string F() => CompactField(featuresField); // made only for an error
        var features = compact.Features;
        var counts = compact.Counts;
        var lengths = compact.Lengths;
        var weights = compact.Weights;
        var bytes = compact.Values.Span;
        int modelFeatures = _engine.Model.Features.Count;
        if (features.Count > _options.MaxFeaturesPerRequest)
            throw new RequestException($"{F()}.features", $"{features.Count} features in one request; at most {_options.MaxFeaturesPerRequest}.");
        if (counts.Count != features.Count)
            throw new RequestException($"{F()}.counts", $"has {counts.Count} counts for {features.Count} features; give one per feature.");
        if (weights.Count != 0 && weights.Count != lengths.Count)
            throw new RequestException($"{F()}.weights", $"has {weights.Count} weights for {lengths.Count} values; give one per value or none.");
        query.Clear();
        Span<bool> seen = stackalloc bool[modelFeatures];
        int value = 0, at = 0;
        for (int i = 0; i < features.Count; i++)
        {
            int index = features[i];
            if ((uint)index >= (uint)modelFeatures)
                throw new RequestException($"{F()}.features[{i}]", $"{index} is not a feature position; the model serves {modelFeatures} features (positions 0 to {modelFeatures - 1}, as ModelInfo lists them).");
            var binding = _engine.Model.Features[index];
            if (seen[index]) throw new RequestException($"{F()}.features[{i}]", $"feature {index} ('{binding.Name}') is listed twice.");
            seen[index] = true;
            int count = counts[i];
            if (count < 0 || count > _options.MaxValuesPerFeature)
                throw new RequestException($"{F()}.counts[{i}]", $"feature '{binding.Name}' has {count} values; give 0 to {_options.MaxValuesPerFeature}.");
            if (value + count > lengths.Count)
                throw new RequestException($"{F()}.lengths", $"has {lengths.Count} lengths; the counts need at least {value + count}.");
            query.BeginFeature(index);
            for (int k = 0; k < count; k++, value++)
            {
                int length = lengths[value];
                if (length < 0 || length > bytes.Length - at)
                    throw new RequestException($"{F()}.lengths[{value}]", $"{length} bytes does not fit in the {bytes.Length - at} bytes left in {F()}.values.");
                var raw = bytes.Slice(at, length);
                if (!System.Text.Unicode.Utf8.IsValid(raw))
                    throw new RequestException($"{F()}.values", $"value {k} of feature '{binding.Name}' (bytes {at} to {at + length - 1}) is not valid UTF-8.");
                float w = 1f;
                if (weights.Count != 0 && !float.IsFinite(w = weights[value]))
                    throw new RequestException($"{F()}.weights[{value}]", $"{w} is not finite.");
                query.AddId(binding.IdOfUtf8(raw), w);
                at += length;
            }
        }
        if (value != lengths.Count)
            throw new RequestException($"{F()}.lengths", $"has {lengths.Count} lengths for the counts' {value} values; give one per value.");
        if (at != bytes.Length)
            throw new RequestException($"{F()}.values", $"has {bytes.Length} bytes; the lengths add up to {at}.");
    }

    /// <summary>Every model feature in model order (the dense model's column order); each must be in the request.</summary>
    private void FillScoreQuery(LookupQuery query, RepeatedField<FeatureValues> features, string field)
    {
        query.Clear();
        var byName = new Dictionary<string, (FeatureValues Values, int Position)>(StringComparer.Ordinal);
        for (int i = 0; i < features.Count; i++)
        {
            if (_engine.Model.Feature(features[i].Name) is null)
                throw new RequestException($"{field}[{i}].name", $"unknown feature '{features[i].Name}'.");
            if (!byName.TryAdd(features[i].Name, (features[i], i))) throw new RequestException($"{field}[{i}].name", $"feature '{features[i].Name}' is listed twice.");
        }
        var model = _engine.Model;
        for (int f = 0; f < model.Features.Count; f++)
        {
            var binding = model.Features[f];
            if (!byName.TryGetValue(binding.Name, out var fv))
                throw new RequestException(field, $"missing required feature '{binding.Name}' (Score needs every sparse feature; send it with no values when it is absent).");
            AddValues(query, f, binding, fv.Values, field, fv.Position);
        }
    }

    /// <summary>The values of feature <paramref name="position"/> of <paramref name="field"/> (its name made only for an error).</summary>
    private void AddValues(LookupQuery query, int index, FeatureBinding binding, FeatureValues fv, string field, int position)
    {
        if (fv.Values.Count > _options.MaxValuesPerFeature)
            throw new RequestException($"{field}[{position}].values", $"feature '{fv.Name}' has {fv.Values.Count} values; at most {_options.MaxValuesPerFeature}.");
        if (fv.Weights.Count != 0 && fv.Weights.Count != fv.Values.Count)
            throw new RequestException($"{field}[{position}].weights", $"feature '{fv.Name}' has {fv.Weights.Count} weights for {fv.Values.Count} values; give one per value or none.");
        query.BeginFeature(index);
        for (int k = 0; k < fv.Values.Count; k++)
        {
            float w = fv.Weights.Count == 0 ? 1f : fv.Weights[k];
            if (!float.IsFinite(w)) throw new RequestException($"{field}[{position}].weights[{k}]", $"{w} is not finite.");
            query.AddId(binding.IdOf(fv.Values[k]), w);
        }
    }

    private T Timed<T>(string method, Func<T> call) => Timed(method, call, static c => c());

    /// <summary>Runs <paramref name="call"/> on <paramref name="state"/>, counted and timed as <paramref name="method"/> (a static lambda allocates nothing per call).</summary>
    private T Timed<TState, T>(string method, TState state, Func<TState, T> call)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var result = call(state);
            Metrics.Request(method, "OK");
            return result;
        }
        catch (RequestException)
        {
            Metrics.Request(method, "INVALID_ARGUMENT");
            throw;
        }
        finally
        {
            Metrics.Latency(method).Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }
}
