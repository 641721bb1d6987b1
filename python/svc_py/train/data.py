"""Training data: every clip of a dataset written by `svc preprocess` (docs/dataset.md) in memory,
random training windows of them, and so-vits-svc's spectrogram and mel (mel_processing: reflect pad
(n_fft - hop) / 2, center=False), which the losses compare."""
import os
import wave

import numpy as np
import torch
import torchaudio
from torch.nn import functional as F

from ..events import SvcPyError


def spectrogram(y, n_fft, hop, win):
    """y [B, L] -> linear magnitude [B, n_fft/2+1, L // hop]."""
    pad = (n_fft - hop) // 2
    y = F.pad(y.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
    window = torch.hann_window(win, device=y.device, dtype=y.dtype)
    spec = torch.stft(y, n_fft, hop_length=hop, win_length=win, window=window, center=False,
                      return_complex=True)
    return torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + 1e-6)


class MelScale:
    """Linear magnitude [B, F, T] -> log mel [B, n_mels, T] with slaney scale and norm (librosa's)."""

    def __init__(self, data, device):
        self.basis = torchaudio.functional.melscale_fbanks(
            data["filter_length"] // 2 + 1, float(data.get("mel_fmin", 0.0)), float(data.get("mel_fmax") or data["sampling_rate"] / 2),
            int(data.get("n_mel_channels", 80)), data["sampling_rate"], norm="slaney", mel_scale="slaney").T.to(device)

    def __call__(self, spec):
        return torch.log(torch.clamp(torch.matmul(self.basis, spec), min=1e-5))


def read_wav_pcm16(path):
    with wave.open(path, "rb") as handle:
        if handle.getsampwidth() != 2 or handle.getnchannels() != 1:
            raise SvcPyError("INVALID_AUDIO", f"{path}: expected mono PCM16 (as svc preprocess writes), got "
                             f"{handle.getnchannels()} channels of {8 * handle.getsampwidth()}-bit samples",
                             "re-run svc preprocess on the source folder")
        rate = handle.getframerate()
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return rate, data


def nearest_rows(units, frames):
    """Content rows [Tc, D] -> one row per model frame [frames, D], row = floor(i * Tc / frames)."""
    index = np.minimum((np.arange(frames) * units.shape[0]) // frames, units.shape[0] - 1)
    return units[index]


class Dataset:
    """All clips of one split, in memory (datasets for voice models are minutes to hours)."""

    def __init__(self, root, manifest, config, split):
        data = config["data"]
        self.hop = data["hop_length"]
        self.clips = []
        for clip in manifest["clips"]:
            if clip["split"] != split:
                continue
            base = os.path.join(root, "clips", clip["id"])
            rate, audio = read_wav_pcm16(base + ".wav")
            if rate != data["sampling_rate"]:
                raise SvcPyError("MODEL_INVALID", f"{base}.wav is {rate} Hz but the config trains at {data['sampling_rate']} Hz",
                                 "preprocess the dataset for this config (svc preprocess --config ...) or pick the matching config")
            f0 = np.load(base + ".f0.npy").astype(np.float32)
            uv = np.load(base + ".uv.npy").astype(np.float32)
            vol = np.load(base + ".vol.npy").astype(np.float32) if os.path.exists(base + ".vol.npy") else np.zeros_like(f0)
            units = np.load(base + ".units.npy").astype(np.float32)
            if units.shape[1] != config["model"]["ssl_dim"]:
                raise SvcPyError("MODEL_INVALID", f"{base}.units.npy has {units.shape[1]}-d content rows but the config's ssl_dim is "
                                 f"{config['model']['ssl_dim']}", "preprocess with the encoder the config expects, or change ssl_dim")
            spec_path = base + ".spec.npy"
            if os.path.exists(spec_path):
                spec = np.load(spec_path).astype(np.float32)
            else:
                spec = spectrogram(torch.from_numpy(audio)[None], data["filter_length"], self.hop, data["win_length"])[0].numpy()
            frames = min(len(f0), len(uv), len(vol), spec.shape[1], len(audio) // self.hop)
            if frames < 4:
                continue
            self.clips.append({
                "id": clip["id"], "sid": manifest["speakers"][clip["speaker"]],
                "audio": audio[: frames * self.hop], "f0": f0[:frames], "uv": uv[:frames], "vol": vol[:frames],
                "spec": spec[:, :frames], "content": nearest_rows(units, frames),
            })
        if not self.clips:
            raise SvcPyError("INVALID_ARGUMENT", f"{root}: no usable '{split}' clips in the dataset",
                             "run svc preprocess on a folder with speech, at least a few seconds of it")

    def batch(self, rng, batch_size, max_frames):
        """Random clips, each cut to a random window of up to max_frames frames, zero-padded."""
        picks = [self.clips[rng.randrange(len(self.clips))] for _ in range(batch_size)]
        windows = []
        for clip in picks:
            frames = len(clip["f0"])
            length = min(frames, max_frames)
            start = rng.randrange(frames - length + 1)
            windows.append((clip, start, length))
        longest = max(length for _, _, length in windows)

        def stack(key, per_frame_axis_last=True):
            rows = []
            for clip, start, length in windows:
                x = clip[key][..., start:start + length] if per_frame_axis_last else clip[key][start:start + length]
                pad = longest - length
                rows.append(np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, pad)]) if per_frame_axis_last else np.pad(x, [(0, pad), (0, 0)]))
            return torch.from_numpy(np.stack(rows))

        audio = []
        for clip, start, length in windows:
            a = clip["audio"][start * self.hop:(start + length) * self.hop]
            audio.append(np.pad(a, (0, (longest - length) * self.hop)))
        return {
            "c": stack("content", per_frame_axis_last=False).transpose(1, 2),  # [B, D, T]
            "f0": stack("f0"), "uv": stack("uv"), "vol": stack("vol"), "spec": stack("spec"),
            "audio": torch.from_numpy(np.stack(audio)).unsqueeze(1),  # [B, 1, T*hop]
            "sid": torch.tensor([clip["sid"] for clip, _, _ in windows], dtype=torch.long),
            "lengths": torch.tensor([length for _, _, length in windows], dtype=torch.long),
        }


def slice_frames(x, starts, size):
    return torch.stack([x[i, :, s:s + size] for i, s in enumerate(starts.tolist())])
