using System.Diagnostics;
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

    public LookupResponse Lookup(LookupRequest request) => Timed("Lookup", () => LookupOne(request, "features"));

    public BatchLookupResponse BatchLookup(BatchLookupRequest request) => Timed("BatchLookup", () =>
    {
        if (request.Requests.Count > _options.MaxBatch)
            throw new RequestException("requests", $"{request.Requests.Count} requests in one call; at most {_options.MaxBatch}.");
        var response = new BatchLookupResponse();
        for (int i = 0; i < request.Requests.Count; i++) response.Responses.Add(LookupOne(request.Requests[i], $"requests[{i}].features"));
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

    private LookupResponse LookupOne(LookupRequest request, string field)
    {
        var shape = request.Mode == LookupMode.PerValue ? LookupShape.PerValue : LookupShape.Pooled;
        var query = _engine.Rent();
        try
        {
            int[] order = FillQuery(query, request.Features, field, requireAll: false);
            var output = new float[_engine.OutputLength(query, shape)];
            long version = _engine.Execute(query, shape, output);
            Metrics.RowsServed.Add(query.IdCount);
            var response = new LookupResponse { MaxRowVersion = version };
            int at = 0;
            for (int i = 0; i < order.Length; i++)
            {
                var binding = _engine.Model.Features[query.FeatureAt(i)];
                int n = shape == LookupShape.Pooled ? binding.OutputDim : binding.OutputDim * query.ValueCount(i);
                var vector = new FeatureVector { Name = binding.Name, Dim = binding.OutputDim };
                vector.Values.Add(new ArraySegment<float>(output, at, n)); // an ICollection: copied in one block
                response.Features.Add(vector);
                at += n;
            }
            return response;
        }
        finally
        {
            _engine.Return(query);
        }
    }

    /// <summary>Adds the request's features in request order; returns their model indices.</summary>
    private int[] FillQuery(LookupQuery query, RepeatedField<FeatureValues> features, string field, bool requireAll)
    {
        if (features.Count > _options.MaxFeaturesPerRequest)
            throw new RequestException(field, $"{features.Count} features in one request; at most {_options.MaxFeaturesPerRequest}.");
        query.Clear();
        var order = new int[features.Count];
        Span<bool> seen = stackalloc bool[_engine.Model.Features.Count];
        for (int i = 0; i < features.Count; i++)
        {
            var fv = features[i];
            var binding = _engine.Model.Feature(fv.Name)
                ?? throw new RequestException($"{field}[{i}].name", $"unknown feature '{fv.Name}'; the model serves {string.Join(", ", _engine.Model.Features.Select(f => f.Name))}.");
            int index = binding.Index;
            if (seen[index]) throw new RequestException($"{field}[{i}].name", $"feature '{fv.Name}' is listed twice.");
            seen[index] = true;
            AddValues(query, index, binding, fv, $"{field}[{i}]");
            order[i] = index;
        }
        return order;
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
            AddValues(query, f, binding, fv.Values, $"{field}[{fv.Position}]");
        }
    }

    private void AddValues(LookupQuery query, int index, FeatureBinding binding, FeatureValues fv, string field)
    {
        if (fv.Values.Count > _options.MaxValuesPerFeature)
            throw new RequestException($"{field}.values", $"feature '{fv.Name}' has {fv.Values.Count} values; at most {_options.MaxValuesPerFeature}.");
        if (fv.Weights.Count != 0 && fv.Weights.Count != fv.Values.Count)
            throw new RequestException($"{field}.weights", $"feature '{fv.Name}' has {fv.Weights.Count} weights for {fv.Values.Count} values; give one per value or none.");
        query.BeginFeature(index);
        for (int k = 0; k < fv.Values.Count; k++)
        {
            float w = fv.Weights.Count == 0 ? 1f : fv.Weights[k];
            if (!float.IsFinite(w)) throw new RequestException($"{field}.weights[{k}]", $"{w} is not finite.");
            query.AddId(binding.IdOf(fv.Values[k]), w);
        }
    }

    private T Timed<T>(string method, Func<T> call)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            var result = call();
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
