using RecsysEmbed.Core.Config;
using RecsysEmbed.Tests.Config;
using RecsysEmbed.Training.Models;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace RecsysEmbed.Tests.Training;

/// <summary>bf16 dense MLPs: same parameters as fp32, outputs and gradients within bfloat16 rounding of fp32.</summary>
public class DensePrecisionTests
{
    private static (Tensor Output, Dictionary<string, Tensor> Grads) Run(DensePrecision precision, int features, int dim)
    {
        torch.manual_seed(3);
        var columns = Enumerable.Range(0, features).Select(f => ($"f{f}", f * dim, dim)).ToList();
        using var model = new DlrmModel(5, columns, dim, new DenseModelConfig { BottomMlp = [32], TopMlp = [32], Precision = precision });
        torch.manual_seed(4);
        var dense = torch.randn(64, 5);
        var embeddings = torch.randn(64, features * dim);
        var output = model.Forward(dense, embeddings);
        output.sum().backward();
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.detach().clone());
        Assert.Equal(ScalarType.Float32, output.dtype);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        return (output.detach(), grads);
    }

    [Fact]
    public void Bf16Dlrm_MatchesFp32WithinBfloat16Rounding_AndTrainsTheSameFp32Parameters()
    {
        var (fp32, fp32Grads) = Run(DensePrecision.Fp32, features: 4, dim: 8);
        var (bf16, bf16Grads) = Run(DensePrecision.Bf16, features: 4, dim: 8);
        Assert.Equal(fp32Grads.Keys.OrderBy(k => k), bf16Grads.Keys.OrderBy(k => k));
        // bfloat16 keeps 8 significant bits (relative rounding 2^-9 per operation); a two-layer MLP stays well within 5%.
        double scale = fp32.abs().max().item<float>();
        double error = (bf16 - fp32).abs().max().item<float>();
        Assert.True(error <= 0.05 * scale, $"max |bf16 - fp32| = {error}, scale {scale}");
        Assert.True(error > 0, "bf16 output is bit-identical to fp32: the bf16 path did not run");
        // Gradients by relative Frobenius norm: a ReLU whose input sits within rounding of 0 may switch between the
        // precisions and move single entries, but the gradient as a whole must agree.
        foreach (var (name, g) in fp32Grads)
        {
            double relative = (bf16Grads[name] - g).norm().item<float>() / Math.Max(g.norm().item<float>(), 1e-12);
            Assert.True(relative <= 0.05, $"{name}: |grad bf16 - grad fp32| / |grad fp32| = {relative}");
        }
    }

    [Fact]
    public void PrecisionKey_IsParsedAndValidated()
    {
        var config = ModelConfig.Parse(TestConfigs.Model("model: {precision: bf16}\ndefault_table: {family: hash, buckets: 64}"));
        Assert.Equal(DensePrecision.Bf16, config.Model.Precision);
        TestConfigs.Fails(TestConfigs.Model("model: {precision: fp8}\ndefault_table: {family: hash, buckets: 64}"), "model.precision", "fp8", "fp32 or bf16");
    }
}
