using System.Collections;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization.NamingConventions;

namespace RecsysEmbed.Core.Config.Yaml;

/// <summary>
/// Maps positions in a YAML text to key paths (<c>tables[2].collisions</c>), and key paths to the document type
/// expected there. YamlDotNet's errors carry only a line and column; this turns them into messages that name the
/// key, its value and, for an unknown key, the keys allowed in its place.
/// </summary>
internal sealed class YamlKeyIndex
{
    /// <summary>A node of the text: where it starts, its path segments (string key or int index), and its kind.</summary>
    private sealed record Node(Mark Start, IReadOnlyList<object> Segments, bool IsKey, string? Scalar, string Kind);

    private readonly List<Node> _nodes = new();

    public YamlKeyIndex(string text)
    {
        var parser = new Parser(new StringReader(text));
        try
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<DocumentStart>(out _)) Walk(parser, []);
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            // A syntax error or a truncated stream: the nodes before it are indexed, which is all a message needs.
        }
    }

    private void Walk(IParser parser, List<object> path)
    {
        if (parser.TryConsume<Scalar>(out var scalar))
        {
            _nodes.Add(new Node(scalar.Start, path, false, scalar.Value, "a single value"));
        }
        else if (parser.TryConsume<SequenceStart>(out var seq))
        {
            _nodes.Add(new Node(seq.Start, path, false, null, "a list"));
            for (int i = 0; !parser.TryConsume<SequenceEnd>(out _); i++) Walk(parser, [.. path, i]);
        }
        else if (parser.TryConsume<MappingStart>(out var map))
        {
            _nodes.Add(new Node(map.Start, path, false, null, "a mapping"));
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                if (parser.TryConsume<Scalar>(out var key))
                {
                    var keyPath = new List<object>(path) { key.Value };
                    _nodes.Add(new Node(key.Start, keyPath, true, key.Value, "a key"));
                    Walk(parser, keyPath);
                }
                else
                {
                    Walk(parser, [.. path, "?"]); // complex key: no name to give
                    Walk(parser, [.. path, "?"]);
                }
            }
        }
        else if (parser.TryConsume<AnchorAlias>(out var alias))
        {
            _nodes.Add(new Node(alias.Start, path, false, null, "an alias"));
        }
        else if (!parser.MoveNext())
        {
            throw new InvalidOperationException("the YAML stream ended inside a node.");
        }
    }

    /// <summary>The error YamlDotNet raised, restated with the key path and the value.</summary>
    public ConfigException Translate(YamlException e)
    {
        string where = $"line {e.Start.Line}, column {e.Start.Column}";
        var node = _nodes.LastOrDefault(n => n.Start.Index == e.Start.Index);
        if (e is SyntaxErrorException || node is null)
        {
            // No node starts where the error is: the text is malformed there. Name the key on that line, if any.
            var near = _nodes.LastOrDefault(n => n.Start.Index <= e.Start.Index && n.Start.Line == e.Start.Line);
            string path = near is null ? "" : PathOf(near.Segments);
            if (e is not SyntaxErrorException && near is { IsKey: true } && TypeAt(near.Segments) is { } type)
                return new ConfigException(path, $"{path}: the value at {where} is invalid: expected {Describe(type)}.", e);
            string prefix = path.Length == 0 ? "" : path + ": ";
            return new ConfigException(path, $"{prefix}the YAML is malformed at {where}: {e.Message}", e);
        }
        string keyPath = PathOf(node.Segments);
        if (node.IsKey)
        {
            if (e.Message.Contains("duplicate", StringComparison.OrdinalIgnoreCase))
                return new ConfigException(keyPath, $"{keyPath}: duplicate key ({where}); each key may appear once.", e);
            var parentSegments = node.Segments.Take(node.Segments.Count - 1).ToList();
            var owner = TypeAt(parentSegments);
            if (owner is null || !KeysOf(owner).Contains(node.Scalar))
            {
                string parent = PathOf(parentSegments);
                string allowed = owner is null ? "" : $"; {(parent.Length == 0 ? "the top level" : parent)} takes: {string.Join(", ", KeysOf(owner))}";
                return new ConfigException(keyPath, $"{keyPath}: unknown key '{node.Scalar}' ({where}){allowed}.", e);
            }
            return new ConfigException(keyPath, $"{keyPath}: invalid at {where}: {e.Message}", e);
        }
        var expected = TypeAt(node.Segments);
        string value = node.Scalar is null ? node.Kind : ConfigException.Show(node.Scalar);
        string reason = expected is null ? e.InnerException?.Message ?? e.Message : $"expected {Describe(expected)}";
        return new ConfigException(keyPath, $"{ConfigException.Display(keyPath)}: {value} is invalid: {reason} ({where}).", e);
    }

    internal static string PathOf(IReadOnlyList<object> segments)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var s in segments)
        {
            if (s is int i) sb.Append('[').Append(i).Append(']');
            else sb.Append(sb.Length == 0 ? "" : ".").Append(s);
        }
        return sb.ToString();
    }

    /// <summary>Document type expected at a path, by walking the properties YamlDotNet maps keys to.</summary>
    private static Type? TypeAt(IEnumerable<object> segments)
    {
        Type? type = typeof(ConfigDocument);
        foreach (var s in segments)
        {
            if (type is null) return null;
            if (s is int)
            {
                type = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>) ? type.GetGenericArguments()[0] : null;
            }
            else
            {
                var prop = type.GetProperties().FirstOrDefault(p => KeyOf(p.Name) == (string)s);
                type = prop is null ? null : Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
            }
        }
        return type;
    }

    private static string KeyOf(string propertyName) => UnderscoredNamingConvention.Instance.Apply(propertyName);

    private static IEnumerable<string> KeysOf(Type type) => type.GetProperties().Select(p => KeyOf(p.Name));

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(int) || type == typeof(long) => "an integer",
        _ when type == typeof(ulong) => "a non-negative integer",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(string) => "a single value, not a list or mapping",
        _ when type == typeof(FeatureRefDocument) => "a feature name or a mapping {name, chunks}",
        _ when type == typeof(List<long>) => "a list of integers",
        _ when typeof(IList).IsAssignableFrom(type) => "a list",
        _ => $"a mapping with keys: {string.Join(", ", KeysOf(type))}",
    };
}
