"""RVC's synthesizer at inference, written for svc with RVC's parameter names so its saved
weights load strictly (infer/lib/infer_pack/models.py: SynthesizerTrnMs{256,768}NSFsid[_nono]).

It is VITS with content features instead of text, like So-VITS, and reuses svc's VITS modules
(relative transformer, WaveNet coupling flow, HiFi-GAN residual blocks). What differs from So-VITS:
  enc_p: Linear(content_dim -> hidden) + Embedding(256 coarse pitch bins), * sqrt(hidden),
         LeakyReLU(0.1), 6-layer relative transformer with window 10, proj -> m, logs (inter)
  flow:  4 mean-only coupling layers, WaveNet with 3 layers (So-VITS: 4)
  dec:   NSF-HiFiGAN with one harmonic (the fundamental) and RVC's own sine source, plain conv_pre,
         conv_post without bias; no-f0 models use plain HiFi-GAN
  speaker: g = emb_g(sid) [B, gin, 1]; no uv or volume embeddings.
Shapes: phone [B, T, content_dim] at 100 Hz (one row per hop), pitch [B, T] int64 coarse bins,
pitchf [B, T] Hz, rnd [B, inter, T] (N(0,1) * 0.66666 in RVC's own inference)."""
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import weight_norm

from ..sovits.modules import LRELU_SLOPE, Encoder as TransformerEncoder, Flip, ResidualCouplingLayer, sequence_mask
from ..sovits.nsf_hifigan import ResBlock1, ResBlock2

RVC_NOISE_SCALE = 0.66666  # RVC's infer(): z_p = m_p + exp(logs_p) * randn * 0.66666


class TextEncoder(nn.Module):
    def __init__(self, content_dim, out_channels, hidden_channels, filter_channels, n_heads, n_layers, kernel_size,
                 p_dropout, f0=True):
        super().__init__()
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.emb_phone = nn.Linear(content_dim, hidden_channels)
        if f0:
            self.emb_pitch = nn.Embedding(256, hidden_channels)
        self.encoder = TransformerEncoder(hidden_channels, filter_channels, n_heads, n_layers, kernel_size,
                                          float(p_dropout), window_size=10)
        self.proj = nn.Conv1d(hidden_channels, out_channels * 2, 1)

    def forward(self, phone, pitch, lengths):
        x = self.emb_phone(phone)
        if pitch is not None:
            x = x + self.emb_pitch(pitch)
        x = F.leaky_relu(x * math.sqrt(self.hidden_channels), 0.1).transpose(1, -1)  # [B, hidden, T]
        x_mask = sequence_mask(lengths, x.size(2)).unsqueeze(1).to(x.dtype)
        x = self.encoder(x * x_mask, x_mask)
        stats = self.proj(x) * x_mask
        m, logs = torch.split(stats, self.out_channels, dim=1)
        return m, logs, x_mask


class ResidualCouplingBlock(nn.Module):
    def __init__(self, channels, hidden_channels, kernel_size, dilation_rate, n_layers, n_flows=4, gin_channels=0):
        super().__init__()
        self.flows = nn.ModuleList()
        for _ in range(n_flows):
            self.flows.append(ResidualCouplingLayer(channels, hidden_channels, kernel_size, dilation_rate, n_layers,
                                                    gin_channels=gin_channels))
            self.flows.append(Flip())

    def reverse(self, x, x_mask, g=None):
        for flow in reversed(self.flows):
            x = flow(x, x_mask, g=g, reverse=True)
        return x


class SineGen(nn.Module):
    """RVC's sine source for the fundamental only (harmonic_num=0), computed as RVC does: the
    per-frame phase increment f0/sr is summed per frame, scaled by upp, linearly interpolated
    (align_corners) to samples; each cycle boundary it crosses becomes a -1 correction of a
    per-sample cumulative sum of the increments. Amplitude 0.1 where voiced; noise N(0, 0.003) voiced, N(0, 0.1/3) unvoiced.
    `deterministic` drops the noise (parity with a noise-free reference)."""

    def __init__(self, sampling_rate, sine_amp=0.1, noise_std=0.003):
        super().__init__()
        self.sampling_rate = sampling_rate
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.deterministic = False

    def forward(self, f0, upp):
        """f0 [B, T] Hz -> sines [B, T*upp, 1]."""
        f0 = f0.unsqueeze(-1)  # [B, T, 1]
        rad = torch.remainder(f0 / self.sampling_rate, 1.0)
        phase = torch.cumsum(rad, 1) * upp
        phase = F.interpolate(phase.transpose(2, 1), scale_factor=float(upp), mode="linear", align_corners=True).transpose(2, 1)
        rad = F.interpolate(rad.transpose(2, 1), scale_factor=float(upp), mode="nearest").transpose(2, 1)
        # RVC marks a wrap where frac(phase) decreases between samples. Counting where floor(phase)
        # steps up is the same for increments below one cycle, and stays exact where the phase is flat
        # (unvoiced stretches): there a runtime's interpolation may wobble by one ulp, and every false
        # wrap of RVC's test adds -1 to the cumulative sum below, whose float32 precision then drifts.
        whole = torch.floor(phase)
        wrapped = whole[:, 1:, :] - whole[:, :-1, :]
        shift = F.pad(-wrapped, [0, 0, 1, 0])
        sines = torch.sin(torch.cumsum(rad + shift, dim=1) * 2 * math.pi) * self.sine_amp
        uv = (f0 > 0).to(f0.dtype)
        uv = F.interpolate(uv.transpose(2, 1), scale_factor=float(upp), mode="nearest").transpose(2, 1)
        sines = sines * uv
        if not self.deterministic:
            noise_amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
            sines = sines + noise_amp * torch.randn_like(sines)
        return sines


class SourceModuleHnNSF(nn.Module):
    def __init__(self, sampling_rate):
        super().__init__()
        self.l_sin_gen = SineGen(sampling_rate)
        self.l_linear = nn.Linear(1, 1)

    def forward(self, f0, upp):
        return torch.tanh(self.l_linear(self.l_sin_gen(f0, upp)))  # [B, N, 1]


class Generator(nn.Module):
    """HiFi-GAN (nsf=False) or NSF-HiFiGAN (nsf=True) with RVC's layer layout."""

    def __init__(self, inter_channels, resblock, resblock_kernel_sizes, resblock_dilation_sizes, upsample_rates,
                 upsample_initial_channel, upsample_kernel_sizes, gin_channels, sampling_rate=None, nsf=True):
        super().__init__()
        self.nsf = nsf
        self.num_kernels = len(resblock_kernel_sizes)
        self.num_upsamples = len(upsample_rates)
        self.upp = int(math.prod(upsample_rates))
        if nsf:
            self.m_source = SourceModuleHnNSF(sampling_rate)
            self.noise_convs = nn.ModuleList()
        self.conv_pre = nn.Conv1d(inter_channels, upsample_initial_channel, 7, 1, padding=3)
        block = ResBlock1 if str(resblock) == "1" else ResBlock2
        self.ups = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            c_out = upsample_initial_channel // (2 ** (i + 1))
            self.ups.append(weight_norm(nn.ConvTranspose1d(upsample_initial_channel // (2 ** i), c_out, kernel, rate,
                                                           padding=(kernel - rate) // 2)))
            if nsf:
                if i + 1 < len(upsample_rates):
                    stride = int(math.prod(upsample_rates[i + 1:]))
                    self.noise_convs.append(nn.Conv1d(1, c_out, kernel_size=stride * 2, stride=stride, padding=stride // 2))
                else:
                    self.noise_convs.append(nn.Conv1d(1, c_out, kernel_size=1))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = upsample_initial_channel // (2 ** (i + 1))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block(ch, k, d))
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3, bias=False)
        if gin_channels:
            self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)

    def forward(self, x, f0=None, g=None):
        source = self.m_source(f0, self.upp).transpose(1, 2) if self.nsf else None  # [B, 1, N]
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i in range(self.num_upsamples):
            x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
            if self.nsf:
                x = x + self.noise_convs[i](source)
            xs = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                xs = xs + self.resblocks[i * self.num_kernels + j](x)
            x = xs / self.num_kernels
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


class RvcSynthesizer(nn.Module):
    """Built from a parsed RVC config (checkpoint.CONFIG_FIELDS) plus content_dim and f0."""

    def __init__(self, config, content_dim, f0=True):
        super().__init__()
        c = config
        self.content_dim = content_dim
        self.f0 = bool(f0)
        self.inter_channels = int(c["inter_channels"])
        self.sampling_rate = int(c["sr"])
        self.hop_length = int(math.prod(c["upsample_rates"]))
        self.n_speakers = int(c["spk_embed_dim"])
        self.enc_p = TextEncoder(content_dim, c["inter_channels"], c["hidden_channels"], c["filter_channels"], c["n_heads"],
                                 c["n_layers"], c["kernel_size"], c["p_dropout"], f0=self.f0)
        self.dec = Generator(c["inter_channels"], c["resblock"], c["resblock_kernel_sizes"], c["resblock_dilation_sizes"],
                             c["upsample_rates"], c["upsample_initial_channel"], c["upsample_kernel_sizes"], c["gin_channels"],
                             sampling_rate=self.sampling_rate, nsf=self.f0)
        self.flow = ResidualCouplingBlock(c["inter_channels"], c["hidden_channels"], 5, 1, 3, gin_channels=c["gin_channels"])
        self.emb_g = nn.Embedding(self.n_speakers, c["gin_channels"])

    def set_deterministic_source(self, deterministic):
        if self.f0:
            self.dec.m_source.l_sin_gen.deterministic = bool(deterministic)

    def infer(self, phone, phone_lengths, pitch, pitchf, sid, rnd):
        """RVC's export graph: z_p = (m_p + exp(logs_p) * rnd) * mask -> flow^-1 -> dec."""
        g = self.emb_g(sid).unsqueeze(-1)
        m_p, logs_p, x_mask = self.enc_p(phone, pitch if self.f0 else None, phone_lengths)
        z_p = (m_p + torch.exp(logs_p) * rnd) * x_mask
        z = self.flow.reverse(z_p, x_mask, g=g)
        return self.dec(z * x_mask, pitchf if self.f0 else None, g=g)


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())
