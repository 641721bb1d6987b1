"""Content encoders exported to ONNX in the `source`/`embed` convention that so-vits-svc's
*-onnx encoders use: input `source` f32 [1, 1, N] (16 kHz mono, [-1, 1]) -> output `embed`
f32 [1, T', D], one row per 20 ms (320 samples; T' = floor((N - 400) / 320) + 1 for HuBERT's
conv front end).

- hubert_base: torchaudio.models.hubert_base() (HuBERT/ContentVec base: 7 conv layers, 12
  transformer layers, 768-d) with RANDOM weights (nothing is downloaded); `embed` is the output of
  transformer layer `layer` (12 = what vec768l12 means: layer 12, no final_proj).
- tiny_conv: a small random conv stack with the same framing (stride 320, receptive field 400),
  for tiny reference bundles that must build and run in seconds."""
import time

import torch
from torch import nn

ENCODER_SAMPLE_RATE = 16000
ENCODER_HOP_SAMPLES = 320
ENCODER_WINDOW_SAMPLES = 400


class HubertLayerOutput(nn.Module):
    """source [B, 1, N] -> embed [B, T', 768]: hidden states after transformer layer `layer`."""

    def __init__(self, layer=12, seed=0):
        super().__init__()
        import torchaudio
        torch.manual_seed(seed)
        self.model = torchaudio.models.hubert_base()
        self.layer = layer

    def forward(self, source):
        # extract_features returns the outputs of the first num_layers transformer layers.
        features, _ = self.model.extract_features(source.squeeze(1), num_layers=self.layer)
        return features[-1]


class TinyConvEncoder(nn.Module):
    """source [B, 1, N] -> embed [B, T', dim] with HuBERT's framing (one strided conv with a
    400-sample window and 320-sample hop, where HuBERT stacks seven), then a small mixing stack."""

    def __init__(self, dim=256, hidden=64, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.frame = nn.Conv1d(1, hidden, ENCODER_WINDOW_SAMPLES, stride=ENCODER_HOP_SAMPLES)
        self.mix = nn.Sequential(nn.GELU(), nn.Conv1d(hidden, hidden, 3, padding=1), nn.GELU(), nn.Conv1d(hidden, dim, 1))

    def forward(self, source):
        return self.mix(self.frame(source)).transpose(1, 2)


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())


def export_encoder(encoder, path, opset=16, seconds_of_audio=1.0):
    """Exports with dynamic axes source {0: batch, 2: samples}, embed {0: batch, 1: frames}."""
    encoder.eval()
    source = torch.randn(1, 1, int(ENCODER_SAMPLE_RATE * seconds_of_audio)) * 0.1
    started = time.time()
    with torch.no_grad():
        torch.onnx.export(encoder, (source,), path, input_names=["source"], output_names=["embed"],
                          dynamic_axes={"source": {0: "batch", 2: "samples"}, "embed": {0: "batch", 1: "frames"}},
                          opset_version=opset, do_constant_folding=True)
    return time.time() - started


def encoder_manifest(kind, dim, layer=None):
    description = {
        "hubert_base": f"HuBERT-base-size encoder (torchaudio hubert_base, random weights), output of transformer layer {layer}",
        "tiny_conv": "tiny random conv encoder with HuBERT framing (random weights)",
    }[kind]
    return {
        "file": "encoder.onnx", "convention": "source-embed", "input": "source", "output": "embed",
        "sample_rate": ENCODER_SAMPLE_RATE, "hop_samples": ENCODER_HOP_SAMPLES, "window_samples": ENCODER_WINDOW_SAMPLES,
        "dim": dim, "kind": kind, "layer": layer, "description": description,
    }
