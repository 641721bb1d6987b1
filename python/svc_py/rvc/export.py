"""ONNX export with RVC's own export signature (infer/modules/onnx/export.py, SynthesizerTrnMsNSFsidM):

  inputs  phone          f32 [1, T, content_dim]  dynamic axis 1   content rows at 100 Hz (20 ms rows repeated x2)
          phone_lengths  i64 [1]                  static           T
          pitch          i64 [1, T]               dynamic axis 1   coarse pitch bin 1..255 (f0 models only)
          pitchf         f32 [1, T]               dynamic axis 1   f0 in Hz, 0 = unvoiced (f0 models only)
          ds             i64 [1]                  static           speaker id
          rnd            f32 [1, inter, T]        dynamic axis 2   prior noise: N(0,1) * 0.66666 as RVC infers
  output  audio          f32 [1, 1, T * hop]
No-f0 models drop pitch and pitchf (RVC's exporter cannot export them; w-okada's drops them too).
Dynamic axes as lists, opset 13 and no constant folding, as RVC exports."""
import time

import torch
from torch import nn

OPSET = 13


class OnnxRvc(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, phone, phone_lengths, pitch, pitchf, ds, rnd):
        return self.net.infer(phone, phone_lengths, pitch, pitchf, ds, rnd)


class OnnxRvcNoF0(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, phone, phone_lengths, ds, rnd):
        return self.net.infer(phone, phone_lengths, None, None, ds, rnd)


def input_spec(net):
    spec = [{"name": "phone", "dtype": "float32", "shape": [1, "T", net.content_dim]},
            {"name": "phone_lengths", "dtype": "int64", "shape": [1]}]
    if net.f0:
        spec += [{"name": "pitch", "dtype": "int64", "shape": [1, "T"]}, {"name": "pitchf", "dtype": "float32", "shape": [1, "T"]}]
    return spec + [{"name": "ds", "dtype": "int64", "shape": [1]},
                   {"name": "rnd", "dtype": "float32", "shape": [1, net.inter_channels, "T"]}]


DYNAMIC_AXES = {"phone": [1], "pitch": [1], "pitchf": [1], "rnd": [2]}


def example_inputs(net, frames=200, seed=0):
    """A voiced glide with an unvoiced stretch at 100 Hz frames; content rows repeated in pairs
    (RVC interpolates 50 Hz encoder rows x2)."""
    gen = torch.Generator().manual_seed(seed)
    rows = torch.randn(1, (frames + 1) // 2, net.content_dim, generator=gen)
    phone = rows.repeat_interleave(2, dim=1)[:, :frames]
    pitchf = (180.0 + 120.0 * torch.sin(torch.linspace(0, 3.0, frames))).unsqueeze(0)
    quarter = max(1, frames // 4)
    pitchf[:, quarter:2 * quarter] = 0.0
    mel = 1127.0 * torch.log(1.0 + pitchf / 700.0)
    mel_min, mel_max = 1127.0 * torch.log(torch.tensor(1.0 + 50.0 / 700.0)), 1127.0 * torch.log(torch.tensor(1.0 + 1100.0 / 700.0))
    mel = torch.where(mel > 0, (mel - mel_min) * 254 / (mel_max - mel_min) + 1, mel)
    pitch = torch.clamp(torch.round(mel), 1, 255).long()
    inputs = {"phone": phone, "phone_lengths": torch.LongTensor([frames]), "pitch": pitch, "pitchf": pitchf,
              "ds": torch.LongTensor([min(1, net.n_speakers - 1)]),
              "rnd": torch.randn(1, net.inter_channels, frames, generator=gen) * 0.66666}
    if not net.f0:
        del inputs["pitch"], inputs["pitchf"]
    return inputs


def _wrapper(net):
    return (OnnxRvc(net) if net.f0 else OnnxRvcNoF0(net)).eval()


def export_rvc(net, path, deterministic_source=False, frames=60):
    net.eval()
    net.set_deterministic_source(deterministic_source)
    inputs = example_inputs(net, frames)
    names = [s["name"] for s in input_spec(net)]
    axes = {n: list(DYNAMIC_AXES[n]) for n in names if n in DYNAMIC_AXES}
    started = time.time()
    try:
        with torch.no_grad():
            torch.onnx.export(_wrapper(net), tuple(inputs[n] for n in names), path, input_names=names, output_names=["audio"],
                              dynamic_axes=axes, opset_version=OPSET, do_constant_folding=False)
    finally:
        net.set_deterministic_source(False)
    return {"inputs": input_spec(net), "outputs": [{"name": "audio", "dtype": "float32", "shape": [1, 1, "T*hop"]}],
            "dynamic_axes": {n: list(DYNAMIC_AXES[n]) for n in axes}, "opset": OPSET, "seconds": time.time() - started}


def run_torch(net, inputs, deterministic_source=False):
    net.set_deterministic_source(deterministic_source)
    try:
        with torch.no_grad():
            return _wrapper(net)(*[inputs[s["name"]] for s in input_spec(net)])
    finally:
        net.set_deterministic_source(False)
