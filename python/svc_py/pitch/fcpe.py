"""FCPE (Fast Context-based Pitch Estimation, CNChTu) as its users have it, rebuilt with the published
parameter names so a checkpoint loads strictly. Two layouts exist, both `{"model": state_dict, <config>}`:

- torchfcpe (`config_dict`): CFNaiveMelPE, the bundled `assets/fcpe_c_v001.pt` that RVC, Applio
  (`rvc/models/predictors/fcpe.pt`) and w-okada load with `spawn_infer_model_from_pt`: `input_stack`,
  `net.encoder_layers.<i>`, `norm`, `output_proj` (weight-normed), `harmonic_emb` (optional), conv-only or
  with attention; decoded with threshold 0.006 and unvoiced below the model's f0_min.
- legacy (`config`): the FCPE of DDSP-SVC / so-vits-svc 4.1 (`pretrain/fcpe.pt`) and older Applio: `stack`,
  `decoder._layers.<i>` (PCmer: attention in every layer), `norm`, `dense_out`; threshold 0.05.

Network, per frame of a 128-band log mel: conv stack (Conv1d k3, GroupNorm(4), LeakyReLU, Conv1d k3) ->
layers of [x += attention(LayerNorm x)] (unless conv-only) then [x += conformer conv module: LayerNorm,
1x1 conv to 4d, GLU, depthwise conv k31, SiLU, 1x1 conv to d] -> LayerNorm -> Linear (weight norm) ->
sigmoid: activation [B, T, out_dims] on a cents grid (cent_table: linear from f0_min to f0_max re 10 Hz).
Attention is the Performer's FAVOR+ linear attention as upstream computes it: 64 dims per head, queries
and keys through the softmax kernel with the checkpoint's random projection (266 x 64), queries
max-stabilised per row, keys not; torchfcpe's use_fa_norm L2-normalises q and k first. (Upstream's local
attention heads are never built: local_heads = 0.)

Front end (torchfcpe MelModule): reflect pad (win - hop) // 2 left and (win - hop + 1) // 2 right, STFT
without centring, sqrt(|X|^2 + 1e-9), Slaney mel 0-8000 Hz (or the first 512 STFT bins for mel type
"stft"), log(clamp 1e-5); the frames are then made N // hop + 1 by repeating the last one. Frame t is
centred at 16 kHz sample hop t + n_fft / 2 - (win - hop) // 2 (= 160 t + 80)."""
import math

import torch
from torch import nn

from .mel import LogMel

SAMPLE_RATE = 16000
DIM_HEAD = 64  # upstream's SelfAttention default, whatever the model width


def _dig(config, *path):
    for key in path:
        if not isinstance(config, dict):
            return None
        config = config.get(key)
    return config


def config_from_checkpoint(data):
    """Normalised hyper-parameters of an FCPE checkpoint (either layout); raises ValueError naming what is missing."""
    state = data["model"]
    if "config_dict" in data:
        layout, cfg = "torchfcpe", data["config_dict"]
        model_type = _dig(cfg, "model", "type")
        if model_type not in (None, "CFNaiveMelPE"):
            raise ValueError(f"torchfcpe model type {model_type!r} (only CFNaiveMelPE is published)")
        mel = {"sr": _dig(cfg, "mel", "sr") or 16000, "hop": _dig(cfg, "mel", "hop_size") or 160}
        mel_type = str(_dig(cfg, "mel", "type") or "default").lower()
        if mel_type not in ("default", "none", "stft"):
            raise ValueError(f"torchfcpe mel type {mel_type!r}")
        m = lambda key, default=None: _dig(cfg, "model", key) if _dig(cfg, "model", key) is not None else default
        model = {"hidden": m("hidden_dims", 512), "n_layers": m("n_layers", 6), "n_heads": m("n_heads", 8), "use_fa_norm": bool(m("use_fa_norm", False)),
                 "conv_only": bool(m("conv_only", False)),
                 "harmonic_emb": bool(m("use_harmonic_emb", "harmonic_emb.weight" in state))}
        threshold = 0.006  # torchfcpe's InferCFNaiveMelPE default, what RVC and Applio pass
    elif "config" in data:
        layout, cfg = "legacy", data["config"]
        mel = {"sr": _dig(cfg, "mel", "sampling_rate") or 16000, "hop": _dig(cfg, "mel", "hop_size") or 160}
        mel_type = "default"
        model = {"hidden": _dig(cfg, "model", "n_chans") or 512, "n_layers": _dig(cfg, "model", "n_layers") or 12, "n_heads": 8,
                 "use_fa_norm": False, "conv_only": False, "harmonic_emb": False}
        threshold = 0.05  # FCPEInfer / so-vits-svc's FCPEF0Predictor default
    else:
        raise ValueError("no config_dict (torchfcpe) or config (DDSP-SVC FCPE) beside the weights")
    # Shapes the weights fix; the config's own values must agree (check_state compares every tensor).
    table = state.get("cent_table")
    if table is None or table.dim() != 1:
        raise ValueError("no cent_table in the weights")
    sect = "mel"
    g = lambda *keys: next((_dig(cfg, sect, k) for k in keys if _dig(cfg, sect, k) is not None), None)
    mel.update({"n_fft": g("n_fft") or 1024, "win": g("win_size") or 1024, "n_mels": g("num_mels") or 128,
                "fmin": g("fmin") if g("fmin") is not None else 0, "fmax": g("fmax") or 8000, "type": "stft" if mel_type == "stft" else "default"})
    if mel["sr"] != SAMPLE_RATE:
        raise ValueError(f"mel sample rate {mel['sr']} Hz (FCPE models run at 16000 Hz)")
    if not (0 < mel["win"] <= mel["n_fft"] and 0 < mel["hop"] < mel["win"]):
        raise ValueError(f"STFT window {mel['win']} / n_fft {mel['n_fft']} / hop {mel['hop']}")
    model.update({"out_dims": int(table.shape[0]), "conv_wrapped": any(".conformer.0.net." in k for k in state)})
    return {"layout": layout, "mel": mel, "model": model, "threshold": threshold,
            "f0_min": float(_dig(cfg, "model", "f0_min") or 32.70), "f0_max": float(_dig(cfg, "model", "f0_max") or 1975.5)}


def canonical_state(state, layout):
    """Upstream state_dict -> the names this rebuild uses: torch >= 2.1 weight-norm parametrizations
    (`parametrizations.weight.original0/1`, what torch.nn.utils.parametrizations.weight_norm saves) as the
    `weight_g/weight_v` of torch.nn.utils.weight_norm (the same two tensors)."""
    out = {}
    for key, value in state.items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g").replace(".parametrizations.weight.original1", ".weight_v")
        out[key] = value
    return out


class Transpose(nn.Module):
    def forward(self, x):
        return x.transpose(1, 2)


class DepthwiseConv(nn.Module):
    def __init__(self, channels, kernel):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)

    def forward(self, x):
        return self.conv(x)


class ConvModule(nn.Module):
    """[B, T, d] -> [B, T, d]: LayerNorm, 1x1 conv to 4d, GLU, depthwise k31, SiLU, 1x1 conv (keys net.0/2/4/6)."""

    def __init__(self, dim, kernel=31):
        super().__init__()
        inner = dim * 2
        self.net = nn.Sequential(nn.LayerNorm(dim), Transpose(), nn.Conv1d(dim, inner * 2, 1), nn.GLU(dim=1),
                                 DepthwiseConv(inner, kernel), nn.SiLU(), nn.Conv1d(inner, dim, 1), Transpose())

    def forward(self, x):
        return self.net(x)


class FastAttention(nn.Module):
    """FAVOR+ softmax-kernel linear attention over [B, h, T, 64] (module docstring)."""

    def __init__(self, dim_head, use_norm):
        super().__init__()
        self.use_norm = use_norm
        self.register_buffer("projection_matrix", torch.zeros(int(dim_head * math.log(dim_head)), dim_head))

    def kernel(self, data, is_query, eps=1e-4):
        normalizer = data.shape[-1] ** -0.25
        ratio = self.projection_matrix.shape[0] ** -0.5
        dash = torch.matmul(normalizer * data, self.projection_matrix.t())  # [B, h, T, features]
        diag = (data ** 2).sum(dim=-1, keepdim=True) / 2.0 * normalizer ** 2
        if is_query:
            return ratio * (torch.exp(dash - diag - dash.max(dim=-1, keepdim=True).values) + eps)
        return ratio * torch.exp(dash - diag + eps)

    def forward(self, q, k, v):
        if self.use_norm:
            q = q / (q.norm(dim=-1, keepdim=True) + 1e-8)
            k = k / (k.norm(dim=-1, keepdim=True) + 1e-8)
        q, k = self.kernel(q, True), self.kernel(k, False)
        d_inv = 1.0 / (torch.matmul(q, k.sum(dim=-2).unsqueeze(-1)) + 1e-8)  # [B, h, T, 1]
        context = torch.matmul(k.transpose(-1, -2), v)  # [B, h, features, 64]
        return torch.matmul(q, context) * d_inv


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, use_norm):
        super().__init__()
        self.heads = heads
        self.fast_attention = FastAttention(DIM_HEAD, use_norm)
        inner = DIM_HEAD * heads
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, x):
        b, t, _ = x.shape
        split = lambda y: y.reshape(b, t, self.heads, DIM_HEAD).transpose(1, 2)
        out = self.fast_attention(split(self.to_q(x)), split(self.to_k(x)), split(self.to_v(x)))
        return self.to_out(out.transpose(1, 2).reshape(b, t, self.heads * DIM_HEAD))


class EncoderLayer(nn.Module):
    def __init__(self, dim, heads, use_norm, conv_only, conv_wrapped):
        super().__init__()
        # torchfcpe built with conv_dropout > 0 wraps the module with its dropout: keys `conformer.0.net.*`
        self.conformer = nn.Sequential(ConvModule(dim), nn.Dropout(0.0)) if conv_wrapped else ConvModule(dim)
        self.norm = nn.LayerNorm(dim)
        self.attn = None if conv_only else SelfAttention(dim, heads, use_norm)

    def forward(self, x):
        if self.attn is not None:
            x = x + self.attn(self.norm(x))
        return x + self.conformer(x)


class WeightNormLinear(nn.Module):
    """torch.nn.utils.weight_norm(nn.Linear) as its state_dict stores it: weight = g v / ||v|| per output row."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.weight_g = nn.Parameter(torch.ones(n_out, 1))
        self.weight_v = nn.Parameter(torch.zeros(n_out, n_in))

    def forward(self, x):
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)
        return nn.functional.linear(x, weight, self.bias)


class Fcpe(nn.Module):
    """mel [B, T, n_mels] -> activation [B, T, out_dims], with the parameter names of `layout`."""

    def __init__(self, layout, n_mels, out_dims, hidden, n_layers, n_heads, use_fa_norm, conv_only, harmonic_emb, conv_wrapped=False):
        super().__init__()
        self.layout = layout
        self.register_buffer("cent_table", torch.zeros(out_dims))
        stack = nn.Sequential(nn.Conv1d(n_mels, hidden, 3, 1, 1), nn.GroupNorm(4, hidden), nn.LeakyReLU(), nn.Conv1d(hidden, hidden, 3, 1, 1))
        layers = nn.ModuleList([EncoderLayer(hidden, n_heads, use_fa_norm, conv_only, conv_wrapped) for _ in range(n_layers)])
        encoder = nn.Module()
        if layout == "torchfcpe":
            self.register_buffer("gaussian_blurred_cent_mask", torch.zeros(()))
            self.harmonic_emb = nn.Embedding(9, hidden) if harmonic_emb else None
            self.input_stack, self.net = stack, encoder
            encoder.encoder_layers = layers
            self.norm = nn.LayerNorm(hidden)
            self.output_proj = WeightNormLinear(hidden, out_dims)
        else:
            self.stack, self.decoder = stack, encoder
            encoder._layers = layers
            self.norm = nn.LayerNorm(hidden)
            self.dense_out = WeightNormLinear(hidden, out_dims)

    def encoder_layers(self):
        return self.net.encoder_layers if self.layout == "torchfcpe" else self.decoder._layers

    def forward(self, mel):
        stack = self.input_stack if self.layout == "torchfcpe" else self.stack
        x = stack(mel.transpose(1, 2)).transpose(1, 2)
        if self.layout == "torchfcpe" and self.harmonic_emb is not None:
            x = x + self.harmonic_emb.weight[0]  # upstream's inference adds embedding 0
        for layer in self.encoder_layers():
            x = layer(x)
        out = self.output_proj if self.layout == "torchfcpe" else self.dense_out
        return torch.sigmoid(out(self.norm(x)))


class FcpeOnnx(nn.Module):
    """audio [1, N] 16 kHz (N > (win - hop) / 2) -> activation [1, N // hop + 1, out_dims] (module docstring)."""

    def __init__(self, net, mel):
        super().__init__()
        self.net, self.hop = net, mel["hop"]
        pad = ((mel["win"] - mel["hop"]) // 2, (mel["win"] - mel["hop"] + 1) // 2)
        stft_bins = mel["n_mels"] if mel["type"] == "stft" else None
        self.mel = LogMel(SAMPLE_RATE, mel["n_fft"], mel["hop"], mel["n_mels"], mel["fmin"], mel["fmax"], htk=False, clamp=1e-5,
                          win=mel["win"], pad=pad, magnitude_eps=1e-9, stft_bins=stft_bins)
        self.first_frame_centre = mel["n_fft"] // 2 - pad[0]

    def forward(self, audio):
        mel = self.mel(audio)  # [1, n_mels, frames]
        mel = torch.cat([mel, mel[:, :, -1:]], dim=-1)[:, :, : audio.shape[1] // self.hop + 1]
        return self.net(mel.transpose(1, 2))
