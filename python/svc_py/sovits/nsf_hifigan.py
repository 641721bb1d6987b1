"""NSF-HiFiGAN decoder (Wang et al. 2019 neural source-filter + Kong et al. 2020 HiFi-GAN), the
So-VITS-SVC vocoder: a harmonic sine source at f0 is injected at every upsampling stage.

Upstream names: Generator.{m_source.l_linear, conv_pre, cond, ups, noise_convs, resblocks, conv_post}.
Input: latent z [B, inter, T] frames, f0 [B, T] Hz per frame (0 = unvoiced), g [B, gin, 1].
Output: audio [B, 1, T * hop] in [-1, 1]."""
import math

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import weight_norm

from .modules import LRELU_SLOPE, get_padding, init_normal_


class SineGen(nn.Module):
    """Harmonic sine excitation: fundamental + `harmonic_num` overtones, amplitude `sine_amp` where
    voiced, Gaussian noise (std sine_amp/3) where unvoiced, noise_std added where voiced.

    The phase is accumulated per frame (one frame advances frac(f * hop / sr) cycles) and filled
    in per sample inside the frame, so every sum stays below the frame count: float32 keeps the
    phase exact over long inputs, and the graph is the same in training and in ONNX.
    `deterministic` zeroes the random initial overtone phases and the noise (parity tests).
    With `frame_seed` (int64 [B, T], the ONNX export passes one per frame, derived from the frame's
    latent noise, which the engine hashes by absolute frame) the noise is a hash of (seed, sample in
    frame, harmonic) and the overtones start at phase 0: the same frame gives the same source in any
    call, so streamed windows and offline slices agree (upstream draws both afresh per call)."""

    def __init__(self, sampling_rate, harmonic_num=0, sine_amp=0.1, noise_std=0.003, voiced_threshold=0.0):
        super().__init__()
        self.sampling_rate = sampling_rate
        self.dim = harmonic_num + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.voiced_threshold = voiced_threshold
        self.deterministic = False

    def forward(self, f0, upp, frame_seed=None):
        """f0 [B, T] Hz -> (sines [B, T*upp, dim], uv [B, T*upp, 1])."""
        multiples = torch.arange(1, self.dim + 1, dtype=f0.dtype, device=f0.device)
        cycles_per_sample = torch.remainder(f0.unsqueeze(-1) * multiples / self.sampling_rate, 1.0)  # [B,T,dim]
        advance = torch.remainder(cycles_per_sample * upp, 1.0)  # cycles one frame advances
        start = torch.cumsum(advance, dim=1) - advance  # phase at each frame start (exclusive sum)
        # Hashed: every harmonic starts at phase 0, as in the deterministic mode (upstream: a uniform random
        # phase per call for the overtones), so the two graphs differ only by the noise.
        hashed = frame_seed is not None and not self.deterministic
        if not hashed and not self.deterministic:
            # Random initial phase for the overtones only; the fundamental starts at 0.
            overtone = (multiples > 1).to(f0.dtype)
            start = start + torch.rand_like(cycles_per_sample[:, :1, :]) * overtone
        steps = torch.arange(1, upp + 1, dtype=f0.dtype, device=f0.device).view(1, 1, upp, 1)
        phase = torch.remainder(start.unsqueeze(2) + steps * cycles_per_sample.unsqueeze(2), 1.0)  # [B,T,upp,dim]
        batch = f0.shape[0]
        sines = torch.sin(2.0 * math.pi * phase).reshape(batch, -1, self.dim) * self.sine_amp
        uv = (f0 > self.voiced_threshold).to(f0.dtype).unsqueeze(-1)  # [B,T,1]
        uv = uv.unsqueeze(2).expand(-1, -1, upp, -1).reshape(batch, -1, 1)
        out = sines * uv
        if not self.deterministic:
            noise_amp = uv * self.noise_std + (1.0 - uv) * (self.sine_amp / 3.0)
            noise = hashed_normal(frame_seed, upp, self.dim).to(f0.dtype) if hashed else torch.randn_like(sines)
            out = out + noise_amp * noise
        return out, uv


# Park-Miller modulus: every hash step stays an exact int64 product below 2^62 (ONNX Mul/Mod on int64;
# opset 16 has no bitwise ops), so onnxruntime and PyTorch compute the same integers on any CPU.
HASH_MODULUS = 2147483647


def _mix(x):
    """Non-linear int64 mixing in [0, HASH_MODULUS): three rounds of x <- (x^2 + c) mod p (a linear
    congruence alone would make a lattice of consecutive samples)."""
    for c in (1013904223, 1664525, 22695477):
        x = torch.remainder(x * x + c, HASH_MODULUS)
    return x


def frame_seeds_from_noise(noise):
    """One int64 seed per frame from the latent noise [B, inter, T] (N(0,1) x noise scale, hashed by
    absolute frame by the engine): its first two channels quantised to 2^-16."""
    q = torch.floor(noise[:, :2, :] * 65536.0).to(torch.int64)
    return torch.remainder(q[:, 0, :] * 65599 + q[:, 1, :] * 31 + 12345, HASH_MODULUS)  # [B, T]


def hashed_normal(frame_seed, upp, dim):
    """N(0,1) per (frame seed, sample in frame, harmonic): [B, T*upp, dim] by Box-Muller on two
    hashed uniforms (the graph's one Cos in l_sin_gen: quantize.py's deterministic twin zeroes it)."""
    batch, frames = frame_seed.shape
    j = torch.arange(upp * dim * 2, dtype=torch.int64, device=frame_seed.device).view(1, 1, upp * dim * 2)
    x = _mix(torch.remainder(_mix(frame_seed.unsqueeze(-1)) + j * 40503, HASH_MODULUS))
    u = (x.to(torch.float32) + 0.5) / HASH_MODULUS  # (0, 1)
    u = u.view(batch, frames, upp, dim, 2)
    normal = torch.sqrt(-2.0 * torch.log(u[..., 0])) * torch.cos(2.0 * math.pi * u[..., 1])
    return normal.reshape(batch, frames * upp, dim)



class SourceModuleHnNSF(nn.Module):
    """Merges the harmonics into one excitation: tanh(Linear(dim -> 1))."""

    def __init__(self, sampling_rate, harmonic_num=0, sine_amp=0.1, add_noise_std=0.003, voiced_threshold=0.0):
        super().__init__()
        self.l_sin_gen = SineGen(sampling_rate, harmonic_num, sine_amp, add_noise_std, voiced_threshold)
        self.l_linear = nn.Linear(harmonic_num + 1, 1)
        self.l_tanh = nn.Tanh()

    def forward(self, f0, upp, frame_seed=None):
        sines, uv = self.l_sin_gen(f0, upp, frame_seed)
        return self.l_tanh(self.l_linear(sines)), uv  # [B, N, 1]


class ResBlock1(nn.Module):
    """HiFi-GAN MRF block type 1: three (dilated conv, conv) pairs with residuals."""

    def __init__(self, channels, kernel_size=3, dilation=(1, 3, 5)):
        super().__init__()
        self.convs1 = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)))
            for d in dilation])
        self.convs2 = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=get_padding(kernel_size, 1)))
            for _ in dilation])
        self.convs1.apply(init_normal_)
        self.convs2.apply(init_normal_)

    def forward(self, x):
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN MRF block type 2: dilated convs with residuals."""

    def __init__(self, channels, kernel_size=3, dilation=(1, 3)):
        super().__init__()
        self.convs = nn.ModuleList([
            weight_norm(nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=get_padding(kernel_size, d)))
            for d in dilation])
        self.convs.apply(init_normal_)

    def forward(self, x):
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, LRELU_SLOPE))
        return x


class Generator(nn.Module):
    """NSF-HiFiGAN. Channels halve at every upsampling stage; the source excitation is brought to
    each stage's rate by a strided conv (`noise_convs`) and added."""

    def __init__(self, sampling_rate, inter_channels, resblock, resblock_kernel_sizes, resblock_dilation_sizes,
                 upsample_rates, upsample_initial_channel, upsample_kernel_sizes, gin_channels):
        super().__init__()
        self.num_kernels = len(resblock_kernel_sizes)
        self.num_upsamples = len(upsample_rates)
        self.upp = int(math.prod(upsample_rates))
        self.m_source = SourceModuleHnNSF(sampling_rate, harmonic_num=8)
        self.noise_convs = nn.ModuleList()  # registered before conv_pre: upstream's state-dict order
        self.conv_pre = weight_norm(nn.Conv1d(inter_channels, upsample_initial_channel, 7, 1, padding=3))
        block = ResBlock1 if str(resblock) == "1" else ResBlock2
        self.ups = nn.ModuleList()
        for i, (rate, kernel) in enumerate(zip(upsample_rates, upsample_kernel_sizes)):
            c_in = upsample_initial_channel // (2 ** i)
            c_out = upsample_initial_channel // (2 ** (i + 1))
            self.ups.append(weight_norm(nn.ConvTranspose1d(c_in, c_out, kernel, rate, padding=(kernel - rate + 1) // 2)))
            if i + 1 < len(upsample_rates):
                stride = int(math.prod(upsample_rates[i + 1:]))
                self.noise_convs.append(nn.Conv1d(1, c_out, kernel_size=stride * 2, stride=stride, padding=(stride + 1) // 2))
            else:
                self.noise_convs.append(nn.Conv1d(1, c_out, kernel_size=1))
        self.resblocks = nn.ModuleList()
        for i in range(len(self.ups)):
            ch = upsample_initial_channel // (2 ** (i + 1))
            for k, d in zip(resblock_kernel_sizes, resblock_dilation_sizes):
                self.resblocks.append(block(ch, k, d))
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, 1, padding=3))
        self.ups.apply(init_normal_)
        self.conv_post.apply(init_normal_)
        self.cond = nn.Conv1d(gin_channels, upsample_initial_channel, 1)

    def forward(self, x, f0, g=None, frame_seed=None):
        source, _ = self.m_source(f0, self.upp, frame_seed)
        source = source.transpose(1, 2)  # [B, 1, N]
        x = self.conv_pre(x)
        if g is not None:
            x = x + self.cond(g)
        for i in range(self.num_upsamples):
            x = self.ups[i](F.leaky_relu(x, LRELU_SLOPE))
            x = x + self.noise_convs[i](source)
            xs = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                xs = xs + self.resblocks[i * self.num_kernels + j](x)
            x = xs / self.num_kernels
        # HiFi-GAN's last activation uses PyTorch's default slope (0.01), not LRELU_SLOPE.
        x = self.conv_post(F.leaky_relu(x))
        return torch.tanh(x)
