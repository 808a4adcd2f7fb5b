using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace RecsysEmbed.Core.Config.Yaml;

/// <summary>Reads a table's feature entry written either as a bare name or as a {name, chunks} mapping.</summary>
internal sealed class FeatureRefConverter : IYamlTypeConverter
{
    public bool Accepts(Type type) => type == typeof(FeatureRefDocument);

    public object? ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
    {
        if (parser.TryConsume<Scalar>(out var scalar)) return new FeatureRefDocument { Name = scalar.Value };
        return rootDeserializer(typeof(FeatureRefMappingDocument));
    }

    public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer) =>
        throw new NotSupportedException("configs are read, never written.");
}
