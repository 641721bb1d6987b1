"""Log-mel front ends of the pitch networks, inside the exported graph so the ONNX model takes plain
16 kHz audio. The STFT is a strided conv1d with a windowed Fourier basis (what torch.stft computes,
centre-padded by reflection), and the filterbank is librosa's `filters.mel` (Slaney area norm),
written out here because Debian has no librosa."""
import numpy as np
import torch
from torch import nn


def hz_to_mel(hz, htk):
    hz = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + hz / 700.0)
    # Slaney: linear below 1 kHz, logarithmic above
    f_sp = 200.0 / 3
    mel = hz / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, mel)


def mel_to_hz(mel, htk):
    mel = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)
    f_sp = 200.0 / 3
    hz = f_sp * mel
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), hz)


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk):
    """librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk, norm='slaney') -> [n_mels, n_fft//2+1] float32."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.zeros((n_mels, 1 + n_fft // 2))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """audio [B, N] -> log(clamp(mel |STFT|, clamp)) [B, n_mels, T], magnitude (power 1), reflect padding.
    Default (RMVPE): centre=True, i.e. n_fft // 2 reflected each side, T = N // hop + 1, periodic Hann of
    length n_fft. FCPE (torchfcpe's MelModule) pads `pad` = ((win - hop) // 2, (win - hop + 1) // 2) with
    centre=False, adds `magnitude_eps` (1e-9) under the square root, and its window `win` may be shorter than
    n_fft (zero-padded to the middle, as torch.stft does). `stft_bins`: torchfcpe's mel type "stft", the first
    `stft_bins` magnitude bins instead of the mel filterbank."""

    def __init__(self, sr, n_fft, hop, n_mels, fmin, fmax, htk, clamp, win=None, pad=None, magnitude_eps=0.0, stft_bins=None):
        super().__init__()
        win = win or n_fft
        self.n_fft, self.hop, self.clamp, self.magnitude_eps, self.stft_bins = n_fft, hop, clamp, magnitude_eps, stft_bins
        self.pad = pad if pad is not None else (n_fft // 2, n_fft // 2)
        n = np.arange(n_fft)
        window = np.zeros(n_fft)
        left = (n_fft - win) // 2
        window[left:left + win] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
        k = np.arange(n_fft // 2 + 1)[:, None]
        angle = 2 * np.pi * k * n[None, :] / n_fft
        basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window]).astype(np.float32)
        self.register_buffer("basis", torch.from_numpy(basis).unsqueeze(1))  # [2*bins, 1, n_fft]
        if stft_bins is None:
            self.register_buffer("mel_basis", torch.from_numpy(mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk)))

    def forward(self, audio):
        x = nn.functional.pad(audio.unsqueeze(1), self.pad, mode="reflect")
        spec = nn.functional.conv1d(x, self.basis, stride=self.hop)  # [B, 2*bins, T]
        bins = self.n_fft // 2 + 1
        squared = spec[:, :bins] ** 2 + spec[:, bins:] ** 2
        magnitude = torch.sqrt(squared + self.magnitude_eps if self.magnitude_eps else squared)
        bands = magnitude[:, :self.stft_bins] if self.stft_bins is not None else torch.matmul(self.mel_basis, magnitude)
        return torch.log(torch.clamp(bands, min=self.clamp))
