"""The discriminator a config trains against, and the VITS / HiFi-GAN losses.

The generator is svc_py.sovits.models.SynthesizerTrn (build_generator); the discriminator is
upstream's multi-period + scale layout (periods 2, 3, 5, 7, 11), at a fraction of its width when
train.discriminator_scale < 1."""
import torch
from torch.nn import functional as F

from ..events import SvcPyError
from ..sovits.models import MultiPeriodDiscriminator


def build_discriminator(config):
    """train.discriminator_scale (svc's key; default 1 = upstream's layout, so D_*.pth stay
    compatible with so-vits-svc) selects the width. Upstream's full width (~47 M parameters) costs
    ~10 s a step on a 2-core CPU, which would dwarf a 0.3 M-parameter tiny generator; the tiny
    config trains against 1/8 width."""
    scale = float(config["train"].get("discriminator_scale", 1.0))
    if scale == 1.0:
        return MultiPeriodDiscriminator(config["model"].get("use_spectral_norm", False))
    if not 0.01 <= scale < 1.0:
        raise SvcPyError("INVALID_ARGUMENT", f"train.discriminator_scale must be in [0.01, 1], found {scale}", "use 1 (upstream) or e.g. 0.125")
    return MultiPeriodDiscriminator(width_scale=scale)


def discriminator_loss(real_scores, fake_scores):
    return sum(torch.mean((1 - r) ** 2) + torch.mean(f ** 2) for r, f in zip(real_scores, fake_scores))


def generator_loss(fake_scores):
    return sum(torch.mean((1 - f) ** 2) for f in fake_scores)


def feature_loss(real_maps, fake_maps):
    return 2 * sum(torch.mean(torch.abs(r.detach() - g)) for rs, gs in zip(real_maps, fake_maps) for r, g in zip(rs, gs))


def kl_loss(z_p, logs_q, m_p, logs_p, z_mask):
    """KL(q || p) of the flowed posterior against the prior, per unmasked element."""
    kl = logs_p - logs_q - 0.5 + 0.5 * ((z_p - m_p) ** 2) * torch.exp(-2.0 * logs_p)
    return torch.sum(kl * z_mask) / torch.sum(z_mask)


def stft_loss(y, y_hat, resolutions):
    """Multi-resolution STFT loss (Parallel WaveGAN / NSF): spectral convergence + log-magnitude L1,
    averaged over (n_fft, hop, Hann window) triples. y, y_hat [B, 1, N]. Fine frequency resolution
    (n_fft 2048 at 16 kHz: 7.8 Hz bins) resolves individual harmonics, which the 80-band mel loss
    does not: it is what tells a harmonic spectrum at the source's f0 apart from a comb at the frame rate."""
    total = 0.0
    for n_fft, hop, window in resolutions:
        mags = [torch.stft(x.squeeze(1), n_fft, hop_length=hop, window=window, return_complex=True).abs().clamp(min=1e-5) for x in (y, y_hat)]
        convergence = torch.linalg.norm(mags[0] - mags[1]) / torch.linalg.norm(mags[0])
        total = total + convergence + F.l1_loss(torch.log(mags[0]), torch.log(mags[1]))
    return total / len(resolutions)
