#!/usr/bin/env python3
"""Golden values for test/spectral.test.ts, computed with torch/torchaudio in float64.

Usage: spectral.py INPUT.wav OUT_DIR
Reads a 16-bit PCM mono WAV (standard-library `wave`, samples / 32768 exactly as svc's reader), and
writes OUT_DIR/<name>.f64 (raw little-endian float64, row-major [frame][bin]) plus OUT_DIR/meta.json
({name: {shape: [frames, bins], ...}}). float64 is used so the reference itself carries no float32
FFT rounding; the settings are exactly those named in meta.json.
"""
import json
import os
import sys
import wave

import numpy as np
import torch
import torchaudio


def read_pcm16_mono(path):
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"{path}: expected 16-bit mono PCM")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    return rate, torch.from_numpy(data)


def save(out_dir, meta, name, tensor_time_major, **info):
    arr = np.ascontiguousarray(tensor_time_major.detach().numpy().astype("<f8"))
    arr.tofile(os.path.join(out_dir, name + ".f64"))
    meta[name] = {"shape": list(arr.shape), **info}


def main():
    # Every tensor torchaudio creates internally (windows, mel filterbanks) in float64 too.
    torch.set_default_dtype(torch.float64)
    wav_path, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    rate, y = read_pcm16_mono(wav_path)
    meta = {"sampleRate": rate, "samples": int(y.shape[0]), "torch": torch.__version__, "torchaudio": torchaudio.__version__}
    n_fft, hop, win, n_mels, fmin, fmax = 2048, 512, 2048, 80, 0.0, rate / 2

    # 1. torchaudio magnitude spectrogram, torch centre framing (center=True, reflect).
    spec = torchaudio.transforms.Spectrogram(n_fft=n_fft, win_length=win, hop_length=hop, power=1.0,
                                             center=True, pad_mode="reflect").double()(y)
    save(out_dir, meta, "center_linear", spec.T, nFft=n_fft, hop=hop, win=win, power=1, padding="center")

    # 2. torchaudio mel spectrogram, Slaney scale + Slaney norm, magnitude (power 1).
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=rate, n_fft=n_fft, win_length=win, hop_length=hop,
                                               f_min=fmin, f_max=fmax, n_mels=n_mels, power=1.0, center=True,
                                               pad_mode="reflect", norm="slaney", mel_scale="slaney").double()(y)
    save(out_dir, meta, "center_mel", mel.T, nMels=n_mels, fMin=fmin, fMax=fmax)

    # 3. The filterbank itself, [mel][bin].
    fb = torchaudio.functional.melscale_fbanks(n_fft // 2 + 1, fmin, fmax, n_mels, rate, norm="slaney", mel_scale="slaney")
    save(out_dir, meta, "filterbank", fb.T.double())

    # 4. so-vits-svc log-mel (modules/mel_processing.py): reflect pad (n_fft-hop)/2, center=False,
    #    sqrt(|X|^2 + 1e-6), Slaney mel, log(clamp(x, 1e-5)).
    pad = (n_fft - hop) // 2
    yp = torch.nn.functional.pad(y[None, None, :], (pad, pad), mode="reflect")[0, 0]
    window = torch.hann_window(win, dtype=torch.float64)
    X = torch.stft(yp, n_fft, hop_length=hop, win_length=win, window=window, center=False,
                   normalized=False, onesided=True, return_complex=True)
    mag = torch.sqrt(X.real ** 2 + X.imag ** 2 + 1e-6)
    logmel = torch.log(torch.clamp(torch.matmul(fb.T.double(), mag), min=1e-5))
    save(out_dir, meta, "sovits_logmel", logmel.T, padding="sovits", clampMin=1e-5, magnitudeEpsilon=1e-6)

    # 5. A non-power-of-two FFT (n_fft 400, hop 160, win 400: whisper-style framing), magnitude.
    spec400 = torchaudio.transforms.Spectrogram(n_fft=400, win_length=400, hop_length=160, power=1.0,
                                                center=True, pad_mode="reflect").double()(y)
    save(out_dir, meta, "center_linear_400", spec400.T, nFft=400, hop=160, win=400)

    # 6. A window shorter than n_fft (win 1536 centred in 2048), power 2.
    spec_short = torchaudio.transforms.Spectrogram(n_fft=n_fft, win_length=1536, hop_length=hop, power=2.0,
                                                   center=True, pad_mode="reflect").double()(y)
    save(out_dir, meta, "center_power_win1536", spec_short.T, nFft=n_fft, hop=hop, win=1536, power=2)

    with open(os.path.join(out_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


if __name__ == "__main__":
    main()
