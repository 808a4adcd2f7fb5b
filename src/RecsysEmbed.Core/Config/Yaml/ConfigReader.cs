using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace RecsysEmbed.Core.Config.Yaml;

/// <summary>YAML text to a validated <see cref="ModelConfig"/>; every failure is a <see cref="ConfigException"/>.</summary>
internal static class ConfigReader
{
    // Built per call: configs are read rarely, and this keeps parsing free of shared state.
    // Unmapped keys throw (the default): a typo must not silently fall back to a default value.
    private static IDeserializer NewDeserializer() => new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .WithDuplicateKeyChecking()
        .WithTypeConverter(new FeatureRefConverter())
        .Build();

    public static ModelConfig Parse(string yaml)
    {
        ConfigDocument? doc;
        try
        {
            doc = NewDeserializer().Deserialize<ConfigDocument?>(yaml);
        }
        catch (YamlException e)
        {
            throw new YamlKeyIndex(yaml).Translate(e);
        }
        if (doc is null) throw new ConfigException("", "(document): the config is empty.");
        return ConfigValidator.Validate(doc);
    }
}
