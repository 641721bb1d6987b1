"""ONNX export of the generator with upstream so-vits-svc's signature (onnx_export.py, 4.0 and 4.1):

  inputs  c      f32 [1, Tc, ssl_dim]  dynamic axes 0, 1   content features, one row per 20 ms unit
          f0     f32 [1, T]            dynamic axis 1      Hz per output frame, 0 = unvoiced
          mel2ph i64 [1, T]            dynamic axis 1      1-based row of c for each frame (0 = zero frame)
          uv     f32 [1, T]            dynamic axis 1      1 voiced / 0 unvoiced
          noise  f32 [1, inter, T]     dynamic axis 2      N(0,1) * noise scale (upstream uses 0.35-0.4)
          sid    i64 [1]               static              speaker id
          vol    f32 [1, T]            dynamic axis 1      only when model.vol_embedding (4.1)
  output  audio  f32 [1, 1, T * hop]
Dynamic axes are given as lists, as upstream does, so torch names them `<input>_dynamic_axes_<n>`.
Opset 16, no constant folding (as upstream).

The speaker-mix variant (upstream's onnx/model_onnx_speaker_mix.py export_chara_mix, which
onnx_export.py writes whenever a config names two or more speakers) takes `sid` f32 [T, S]: per
frame, weights over the S speakers of the config's spk table (in file order); g = sum_s w_s emb_g(s),
a conditioning that changes frame by frame."""
import time

import torch
from torch import nn
from torch.nn import functional as F

from .models import f0_to_coarse
from .nsf_hifigan import frame_seeds_from_noise

OPSET = 16


class OnnxSynthesizer(nn.Module):
    """Inference graph of a SynthesizerTrn in upstream's ONNX calling convention."""

    def __init__(self, net, mix_speaker_ids=None):
        super().__init__()
        self.net = net
        self.mix = mix_speaker_ids is not None
        if self.mix:
            with torch.no_grad():  # [S, gin]: the embedding of each mixable speaker, as export_chara_mix
                self.register_buffer("speaker_map", net.emb_g(torch.LongTensor(list(mix_speaker_ids))).clone())

    def forward(self, c, f0, mel2ph, uv, noise, sid, vol=None):
        net = self.net
        # Row 0 of the padded features is zeros; mel2ph picks a row for every output frame.
        padded = F.pad(c, [0, 0, 1, 0])
        index = mel2ph.unsqueeze(2).repeat([1, 1, c.shape[-1]])
        content = torch.gather(padded, 1, index).transpose(1, 2)  # [1, ssl_dim, T]
        # mix: sid [T, S] weights -> g [1, gin, T] (a per-frame blend of speaker embeddings)
        g = torch.matmul(sid, self.speaker_map).transpose(0, 1).unsqueeze(0) if self.mix else net.speaker(sid)
        x_mask = torch.ones_like(f0).unsqueeze(1)
        x = net.content_prenet(content, x_mask, uv, vol)
        z_p, _, _, c_mask = net.enc_p(x, x_mask, f0_to_coarse(f0), noise=noise)
        z = net.flow(z_p, c_mask, g=g, reverse=True)
        # The NSF source's noise is hashed from each frame's latent noise (the engine hashes that by
        # absolute frame), so a frame gets the same source in a streamed window and an offline slice.
        return net.dec(z * c_mask, f0, g=g, frame_seed=frame_seeds_from_noise(noise))


def input_spec(net, mix_count=None):
    """Input names, dtypes, shapes (symbolic) and dynamic axes of the exported graph."""
    inputs = [
        {"name": "c", "dtype": "float32", "shape": [1, "Tc", net.ssl_dim]},
        {"name": "f0", "dtype": "float32", "shape": [1, "T"]},
        {"name": "mel2ph", "dtype": "int64", "shape": [1, "T"]},
        {"name": "uv", "dtype": "float32", "shape": [1, "T"]},
        {"name": "noise", "dtype": "float32", "shape": [1, net.inter_channels, "T"]},
        {"name": "sid", "dtype": "int64", "shape": [1]} if mix_count is None else {"name": "sid", "dtype": "float32", "shape": ["T", mix_count]},
    ]
    if net.vol_embedding:
        inputs.append({"name": "vol", "dtype": "float32", "shape": [1, "T"]})
    return inputs


DYNAMIC_AXES = {"c": [0, 1], "f0": [1], "mel2ph": [1], "uv": [1], "noise": [2], "vol": [1]}
MIX_DYNAMIC_AXES = {**DYNAMIC_AXES, "sid": [0]}


def example_inputs(net, frames=20, seed=0):
    """Inputs like a real call: 20 ms content rows mapped onto hop-sized frames, a voiced
    glide with an unvoiced stretch, unit-variance noise."""
    gen = torch.Generator().manual_seed(seed)
    hop_seconds = net.hop_length / net.sampling_rate
    content_rows = max(1, int(round(frames * hop_seconds / 0.02)))
    c = torch.randn(1, content_rows, net.ssl_dim, generator=gen)
    times = torch.arange(frames, dtype=torch.float32) * hop_seconds
    mel2ph = (torch.clamp((times / 0.02).long(), max=content_rows - 1) + 1).unsqueeze(0)
    f0 = (180.0 + 120.0 * torch.sin(torch.linspace(0, 3.0, frames))).unsqueeze(0)
    uv = torch.ones(1, frames)
    quarter = max(1, frames // 4)
    f0[:, quarter:2 * quarter] = 0.0
    uv[:, quarter:2 * quarter] = 0.0
    noise = torch.randn(1, net.inter_channels, frames, generator=gen)
    sid = torch.LongTensor([min(1, net.n_speakers - 1)])
    vol = (0.1 + 0.05 * torch.rand(1, frames, generator=gen))
    inputs = {"c": c, "f0": f0, "mel2ph": mel2ph, "uv": uv, "noise": noise, "sid": sid}
    if net.vol_embedding:
        inputs["vol"] = vol
    return inputs


def set_deterministic_source(net, deterministic):
    """Zeroes the NSF source's random phases and noise (for parity tests); default is random."""
    net.dec.m_source.l_sin_gen.deterministic = bool(deterministic)


def export_generator(net, path, deterministic_source=False, frames=20, mix_speaker_ids=None):
    """Writes the ONNX graph; returns {inputs, outputs, dynamic_axes, seconds}. mix_speaker_ids
    (a list of speaker ids, the spk table's order) exports upstream's speaker-mix graph."""
    net.eval()
    set_deterministic_source(net, deterministic_source)
    wrapper = OnnxSynthesizer(net, mix_speaker_ids).eval()
    inputs = example_inputs(net, frames)
    mix_count = None if mix_speaker_ids is None else len(mix_speaker_ids)
    if mix_count is not None:
        inputs["sid"] = torch.full((frames, mix_count), 1.0 / mix_count)
    names = [spec["name"] for spec in input_spec(net, mix_count)]
    table = DYNAMIC_AXES if mix_count is None else MIX_DYNAMIC_AXES
    axes = {name: table[name] for name in names if name in table}
    started = time.time()
    with torch.no_grad():
        torch.onnx.export(wrapper, tuple(inputs[n] for n in names), path, input_names=names, output_names=["audio"],
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=False)
    seconds = time.time() - started
    set_deterministic_source(net, False)
    # source_noise: the NSF source draws its noise from each frame's latent noise and starts its overtones
    # at phase 0 (OnnxSynthesizer), so windows of one stream agree in phase and the engine's SOLA needs
    # no search (src/engine/pipeline.ts). Graphs exported before (or upstream's) have no such key.
    return {"inputs": input_spec(net, mix_count), "outputs": [{"name": "audio", "dtype": "float32", "shape": [1, 1, "T*hop"]}],
            "dynamic_axes": axes, "opset": OPSET, "seconds": seconds, "source_noise": "hashed-by-frame"}


def run_torch(net, inputs, deterministic_source=False):
    """Runs the same graph in PyTorch on a dict of input tensors -> audio [1, 1, N]."""
    set_deterministic_source(net, deterministic_source)
    try:
        with torch.no_grad():
            wrapper = OnnxSynthesizer(net).eval()
            names = [spec["name"] for spec in input_spec(net)]
            return wrapper(*[inputs[n] for n in names])
    finally:
        set_deterministic_source(net, False)
