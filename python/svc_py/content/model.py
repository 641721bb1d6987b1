"""The content encoder: source [B, 1, N] (16 kHz, [-1, 1]) -> embed [B, T, D], T = floor((N - 400)
/ 320) + 1 as HuBERT frames it, so it drops into the So-VITS interfaces unchanged.

Front end: a 400-sample Hann window every 320 samples (20 ms), 512-point power spectrum as a fixed
DFT convolution (exports to any ONNX opset), 80 log-mel bands, a fixed normalisation. Body: causal
dilated convolutions (each row sees only its own window and the past: look-ahead 80 samples =
5 ms), a bottleneck (`embed`), and a phone classifier used only in training.

Training-time perturbation (NANSY's idea, done on the power spectrum so it costs nothing): a random
frequency-axis warp (formants and harmonics scaled together, 0.8..1.25, as a vocal tract and
pitch change), a random smooth EQ (+-6 dB) and a random gain, so what identifies a speaker does not
help the classifier and is not kept in `embed`."""
import math

import torch
import torchaudio
from torch import nn
from torch.nn import functional as F

from .phones import PHONES

WINDOW_SAMPLES, HOP_SAMPLES, N_FFT, N_MELS = 400, 320, 512, 80


class CausalConv(nn.Module):
    def __init__(self, channels_in, channels_out, kernel, dilation):
        super().__init__()
        self.left = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels_in, channels_out, kernel, dilation=dilation)

    def forward(self, x):
        return self.conv(F.pad(x, (self.left, 0)))


class PhoneEncoder(nn.Module):
    def __init__(self, hidden=192, embed_dim=256, dilations=(1, 2, 4, 8, 1)):
        super().__init__()
        self.embed_dim = embed_dim
        n = torch.arange(WINDOW_SAMPLES, dtype=torch.float64)
        k = torch.arange(N_FFT // 2 + 1, dtype=torch.float64)[:, None]
        window = torch.hann_window(WINDOW_SAMPLES, periodic=True, dtype=torch.float64)
        angle = 2 * math.pi * k * n / N_FFT
        self.register_buffer("dft", torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window]).float()[:, None, :])
        self.register_buffer("mel", torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 0.0, 8000.0, N_MELS, 16000, norm="slaney", mel_scale="slaney").T.contiguous())
        self.norm = nn.BatchNorm1d(N_MELS)
        self.inp = CausalConv(N_MELS, hidden, 3, 1)
        self.blocks = nn.ModuleList([CausalConv(hidden, hidden, 3, d) for d in dilations])
        self.out = nn.Conv1d(hidden, embed_dim, 1)
        self.classifier = nn.Conv1d(embed_dim, len(PHONES), 1)

    def power(self, source):
        """source [B, 1, N] -> power spectrum [B, 257, T]."""
        spec = F.conv1d(source, self.dft, stride=HOP_SAMPLES)
        half = spec.shape[1] // 2
        return spec[:, :half] ** 2 + spec[:, half:] ** 2

    def embed(self, power):
        """power [B, 257, T] -> embed [B, D, T] (layer-normalised over D)."""
        x = self.norm(torch.log(torch.matmul(self.mel, power) + 1e-6))
        x = F.gelu(self.inp(x))
        for block in self.blocks:
            x = x + F.gelu(block(x))
        x = self.out(x)
        return F.layer_norm(x.transpose(1, 2), (self.embed_dim,)).transpose(1, 2)

    def forward(self, source):
        """The exported graph: source [B, 1, N] -> embed [B, T, D]."""
        return self.embed(self.power(source)).transpose(1, 2)

    def logits(self, power):
        return self.classifier(self.embed(power))


class PosteriorOutput(nn.Module):
    """The exported variant whose rows are phone posteriors (softmax, D = 40): speaker-independent by
    construction, at the cost of everything that is not phone identity."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, source):
        return torch.softmax(self.encoder.logits(self.encoder.power(source)), dim=1).transpose(1, 2)


def perturb(power, generator):
    """Random per-utterance speaker change of a power spectrum batch [B, F, T] (see module doc)."""
    b, bins, _ = power.shape
    out = torch.empty_like(power)
    grid = torch.arange(bins, dtype=power.dtype)
    for i in range(b):
        ratio = math.exp((torch.rand((), generator=generator).item() * 2 - 1) * math.log(1.25))
        # Output bin f takes input bin f / ratio: ratio > 1 moves formants and harmonics up.
        source_bin = (grid / ratio).clamp(max=bins - 1)
        low = source_bin.floor().long()
        high = (low + 1).clamp(max=bins - 1)
        frac = (source_bin - low)[:, None]
        warped = power[i, low] * (1 - frac) + power[i, high] * frac
        # Smooth EQ: a few random cosines over the band, +-6 dB in all; random gain +-10 dB.
        coeffs = (torch.rand(4, generator=generator) * 2 - 1) * 6 / 4
        shape = sum(c * torch.cos(math.pi * (j + 1) * grid / bins + torch.rand((), generator=generator) * math.pi) for j, c in enumerate(coeffs))
        gain_db = (torch.rand((), generator=generator) * 2 - 1) * 10
        out[i] = warped * (10 ** ((shape + gain_db) / 10))[:, None]
    return out
