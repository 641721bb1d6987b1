"""`python -m svc_py.train --dataset DATASET --out RUN [--config tiny|standard|FILE] [--steps N] [--resume]`

The So-VITS-SVC trainer, meant to be read top to bottom: config, data, model, one training step,
checkpoints, the loop. It trains the generator (svc_py.sovits.models.SynthesizerTrn) against the
multi-period + scale discriminator as so-vits-svc does: mel L1 (x c_mel), KL (x c_kl), feature
matching, least-squares adversarial losses, and the f0-predictor MSE when the config enables it.

Progress goes to stdout as JSON lines (svc_py.events), which `svc train` turns into a progress bar.
Checkpoints (G_<step>.pth in upstream's layout, D_<step>.pth) are written atomically every
--checkpoint-every steps with optimizer state; --resume continues from the newest complete pair,
so a kill at any moment loses at most the steps since the last checkpoint.

Scale-out: run under `torchrun --nproc_per_node N -m svc_py.train ...` and each process trains on
its own random batches under DistributedDataParallel (gloo on CPU, nccl on CUDA); rank 0 writes.
"""
import argparse
import copy
import glob
import json
import os
import random
import re
import time
import wave

import numpy as np
import torch
import torch.distributed as dist
import torchaudio
from torch.nn import functional as F

from .events import SvcPyError, emit, progress, run_main
from .safe_pickle import load_torch_file
from .make_reference import STANDARD_CONFIG, tiny_config
from .sovits.config import read_config, validate_config
from .sovits.models import DiscriminatorP, DiscriminatorS, MultiPeriodDiscriminator, build_generator, count_parameters
from .sovits.modules import get_padding


# ----------------------------------------------------------------------------------------------
# config

def load_config(name):
    """'tiny' | 'standard' | path to a so-vits-svc config.json -> validated config dict."""
    if name == "tiny":
        config = tiny_config()
        # The tiny model is for tests and smoke runs of a few hundred CPU steps: a 1/8-width
        # discriminator and a higher learning rate than upstream's 1e-4 make its losses move visibly,
        # and a multi-resolution STFT loss (svc's key train.c_stft; upstream configs leave it at 0)
        # rewards harmonics at the source's f0, which 80 mel bands cannot resolve. Without it the
        # young vocoder's cheapest fit to the mel loss is a 50 Hz frame-rate buzz (docs/training.md).
        config["train"]["discriminator_scale"] = 0.125
        config["train"]["learning_rate"] = 5e-4
        config["train"]["c_stft"] = 15.0
        return validate_config(config)
    if name == "standard":
        return validate_config(copy.deepcopy(STANDARD_CONFIG))
    return read_config(name)


# ----------------------------------------------------------------------------------------------
# audio features (so-vits-svc's mel_processing: reflect pad (n_fft - hop) / 2, center=False)

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


# ----------------------------------------------------------------------------------------------
# data

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


# ----------------------------------------------------------------------------------------------
# discriminator

class ScaledPeriodDiscriminator(DiscriminatorP):
    """HiFi-GAN period discriminator with every width multiplied by `scale` (1.0 = upstream's);
    the forward pass is DiscriminatorP's."""

    def __init__(self, period, scale):
        torch.nn.Module.__init__(self)
        self.period = period
        widths = [1] + [max(2, int(c * scale)) for c in (32, 128, 512, 1024, 1024)]
        pad = (get_padding(5, 1), 0)
        norm = torch.nn.utils.weight_norm
        self.convs = torch.nn.ModuleList(
            [norm(torch.nn.Conv2d(widths[i], widths[i + 1], (5, 1), (3 if i < 4 else 1, 1), padding=pad)) for i in range(5)])
        self.conv_post = norm(torch.nn.Conv2d(widths[-1], 1, (3, 1), 1, padding=(1, 0)))


class ScaledScaleDiscriminator(DiscriminatorS):
    """HiFi-GAN scale discriminator (grouped strided 1-D convs) with widths and groups x `scale`;
    the forward pass is DiscriminatorS's."""

    def __init__(self, scale):
        torch.nn.Module.__init__(self)
        norm = torch.nn.utils.weight_norm
        specs = [(16, 15, 1, 1, 7), (64, 41, 4, 4, 20), (256, 41, 4, 16, 20), (1024, 41, 4, 64, 20), (1024, 41, 4, 256, 20), (1024, 5, 1, 1, 2)]
        layers, width_in = [], 1
        for width, kernel, stride, groups, pad in specs:
            width_out = max(2, int(width * scale))
            groups = max(1, int(groups * scale))
            while width_in % groups or width_out % groups:
                groups -= 1
            layers.append(norm(torch.nn.Conv1d(width_in, width_out, kernel, stride, groups=groups, padding=pad)))
            width_in = width_out
        self.convs = torch.nn.ModuleList(layers)
        self.conv_post = norm(torch.nn.Conv1d(width_in, 1, 3, 1, padding=1))


class ScaledMultiPeriodDiscriminator(MultiPeriodDiscriminator):
    """Upstream's discriminator layout (scale + periods 2, 3, 5, 7, 11) at a fraction of the width.
    Upstream's full width (~47 M parameters) costs ~10 s a step on a 2-core CPU, which would
    dwarf a 0.3 M-parameter tiny generator; the tiny config trains against 1/8 width."""

    def __init__(self, scale, periods=(2, 3, 5, 7, 11)):
        torch.nn.Module.__init__(self)
        self.discriminators = torch.nn.ModuleList(
            [ScaledScaleDiscriminator(scale)] + [ScaledPeriodDiscriminator(p, scale) for p in periods])


def build_discriminator(config):
    """train.discriminator_scale (svc's key; default 1 = upstream's layout, so D_*.pth stay
    compatible with so-vits-svc) selects the width."""
    scale = float(config["train"].get("discriminator_scale", 1.0))
    if scale == 1.0:
        return MultiPeriodDiscriminator(config["model"].get("use_spectral_norm", False))
    if not 0.01 <= scale < 1.0:
        raise SvcPyError("INVALID_ARGUMENT", f"train.discriminator_scale must be in [0.01, 1], found {scale}", "use 1 (upstream) or e.g. 0.125")
    return ScaledMultiPeriodDiscriminator(scale)


# ----------------------------------------------------------------------------------------------
# losses (VITS / HiFi-GAN)

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


def slice_frames(x, starts, size):
    return torch.stack([x[i, :, s:s + size] for i, s in enumerate(starts.tolist())])


# ----------------------------------------------------------------------------------------------
# checkpoints

STEP_RE = re.compile(r"G_(\d+)\.pth$")


def save_atomic(obj, path):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def checkpoint_steps(run_dir):
    """Steps of the generator checkpoints G_<step>.pth in run_dir, ascending."""
    return sorted(int(m.group(1)) for m in (STEP_RE.search(p) for p in glob.glob(os.path.join(run_dir, "G_*.pth"))) if m)


def latest_checkpoint(run_dir):
    """Newest step that has both a loadable G and D checkpoint, or None."""
    for step in reversed(checkpoint_steps(run_dir)):
        if os.path.exists(os.path.join(run_dir, f"D_{step}.pth")):
            return step
    return None


def prune_checkpoints(run_dir, keep):
    steps = checkpoint_steps(run_dir)
    for step in steps[:-keep] if keep > 0 else []:
        for prefix in ("G", "D"):
            path = os.path.join(run_dir, f"{prefix}_{step}.pth")
            if os.path.exists(path):
                os.remove(path)


def find_base(path):
    """--base: a folder holding G_0.pth + D_0.pth (so-vits-svc's pretrained-base convention) or a
    run folder (its newest complete pair), or a G_<n>.pth file with D_<n>.pth beside it.
    Returns (g_path, d_path or None)."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "G_0.pth")):
            d_path = os.path.join(path, "D_0.pth")
            return os.path.join(path, "G_0.pth"), d_path if os.path.exists(d_path) else None
        step = latest_checkpoint(path)
        if step is None:
            raise SvcPyError("FILE_NOT_FOUND", f"--base {path}: no G_0.pth and no G_<step>.pth/D_<step>.pth pair in the folder",
                             "pass a folder with so-vits-svc pretrained G_0.pth and D_0.pth, a run folder, or --base none")
        return os.path.join(path, f"G_{step}.pth"), os.path.join(path, f"D_{step}.pth")
    match = STEP_RE.search(path)
    if not os.path.isfile(path) or not match:
        raise SvcPyError("FILE_NOT_FOUND", f"--base {path}: not a folder or a G_<step>.pth file",
                         "pass a folder with G_0.pth and D_0.pth, a run folder, or --base none")
    d_path = os.path.join(os.path.dirname(path), f"D_{match.group(1)}.pth")
    return path, d_path if os.path.exists(d_path) else None


def require_same_encoder(recorded, manifest, what, hint):
    """Content units of one encoder are no training data for a model started on another's: when both
    the recorded info (a run's run.json, a base's base.json) and the dataset name an encoder sha256,
    they must match. `what` starts the message, e.g. "the run in RUN was"."""
    before = (recorded.get("encoder") or {}).get("sha256")
    now = (manifest.get("encoder") or {}).get("sha256")
    if before and now and before != now:
        raise SvcPyError("MODEL_INVALID", f"{what} trained on content units of encoder {recorded['encoder'].get('name')} "
                         f"(sha256 {before[:12]}), this dataset on {manifest['encoder'].get('name')} (sha256 {now[:12]})", hint)


def check_base_encoder(base, manifest):
    """When the base folder says which encoder it saw (base.json, as svc ships it, or a run's
    run.json), it must be this dataset's. Upstream G_0.pth files say nothing and are trusted.
    Returns the base's `trained_on` line, if any."""
    folder = base if os.path.isdir(base) else os.path.dirname(base)
    for name in ("base.json", "run.json"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
            require_same_encoder(info, manifest, f"--base {base} was",
                                 "preprocess with the base's encoder, pick a base made for this dataset's encoder, or --base none")
            return info.get("trained_on")
    return None


def load_base_weights(net, state, what, source):
    """Copies a pretrained state dict into `net`: every tensor must exist with the same shape, except
    the speaker table (emb_g), whose rows are this run's speakers: they start at the mean of the
    base's speaker vectors, so each new voice starts from the base's average voice."""
    own = net.state_dict()
    mismatched = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in state and state[k].shape != v.shape and k != "emb_g.weight"]
    missing = [k for k in own if k not in state]
    if mismatched or missing:
        detail = "; ".join((mismatched + [f"{k} missing" for k in missing])[:4])
        raise SvcPyError("MODEL_INVALID", f"--base {source}: the {what} was trained with another architecture than this "
                         f"config ({len(mismatched) + len(missing)} tensor(s) differ, e.g. {detail})",
                         "use a base made for this config (the tiny base for --config tiny, so-vits-svc's 4.1 G_0/D_0 for standard), or --base none")
    merged = {k: state[k].to(v.dtype) for k, v in own.items()}
    if "emb_g.weight" in own and state["emb_g.weight"].shape != own["emb_g.weight"].shape:
        merged["emb_g.weight"] = state["emb_g.weight"].float().mean(0, keepdim=True).expand_as(own["emb_g.weight"]).clone()
    net.load_state_dict(merged)


def write_loss_plot(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = ["mel", "kl", "fm", "gen", "disc", "lf0"]
    if any("stft" in h["losses"] for h in history):
        keys.append("stft")
    fig, axes = plt.subplots(2, (len(keys) + 1) // 2, figsize=(4 * ((len(keys) + 1) // 2), 6), constrained_layout=True)
    for ax in axes.flat[len(keys):]:
        ax.axis("off")
    steps = [h["step"] for h in history]
    for ax, key in zip(axes.flat, keys):
        values = [h["losses"].get(key) for h in history]
        if any(v is not None for v in values):
            ax.plot(steps, values, lw=1.2)
        ax.set_title(f"loss_{key}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.suptitle("svc training losses")
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, path)


def write_json_atomic(path, value):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
    os.replace(tmp, path)


def write_wav_pcm16(path, audio, rate):
    # svc's one PCM16 convention (src/audio/pcm16.ts): x * 32768 rounded, clipped to [-32768, 32767].
    pcm = np.clip(np.rint(np.nan_to_num(audio) * 32768.0), -32768, 32767).astype("<i2")
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# the loop

def main():
    parser = argparse.ArgumentParser(prog="svc_py.train")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--config", default="tiny", help="tiny | standard | path to a so-vits-svc config.json")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many steps in total")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--base", default=None, help="start from pretrained weights: a folder with G_0.pth/D_0.pth, a run folder or a G_<n>.pth")
    parser.add_argument("--checkpoint-every", type=int, default=None)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-frames", type=int, default=None, help="longest training window per clip, in frames")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # One intra-op thread per process unless asked: on a shared 2-core CPU, 2 OpenMP threads per
    # process measured 10-20x slower per step than 1 (spinning threads fight other processes).
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // (2 * world)))
    is_main = rank == 0

    # --- config and dataset -------------------------------------------------------------------
    manifest_path = os.path.join(args.dataset, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise SvcPyError("FILE_NOT_FOUND", f"{args.dataset}: no manifest.json, so this is not a finished svc dataset",
                         "run svc preprocess IN_DIR --out DATASET first (an interrupted run can be resumed)")
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    run_config_path = os.path.join(args.out, "config.json")
    if args.resume and os.path.exists(run_config_path):
        config = read_config(run_config_path)
    else:
        config = load_config(args.config)
        config["spk"] = dict(manifest["speakers"])
        config["model"]["n_speakers"] = max(config["model"]["n_speakers"], len(manifest["speakers"]))
    data, train_cfg = config["data"], config["train"]
    for key in ("sampling_rate", "hop_length"):
        if manifest.get(key) != data[key]:
            raise SvcPyError("MODEL_INVALID", f"the dataset was made with {key}={manifest.get(key)} but the config has {key}={data[key]}",
                             "preprocess again for this config (svc preprocess --config ...), or train with the config it was made for")
    if manifest.get("encoder", {}).get("dim") not in (None, config["model"]["ssl_dim"]):
        raise SvcPyError("MODEL_INVALID", f"the dataset's content encoder gives {manifest['encoder']['dim']}-d rows but the config's "
                         f"ssl_dim is {config['model']['ssl_dim']}", "preprocess with the encoder the config expects")
    run_info_path = os.path.join(args.out, "run.json")
    if args.resume and os.path.exists(run_info_path):
        with open(run_info_path, encoding="utf-8") as handle:
            previous = json.load(handle)
        require_same_encoder(previous, manifest, f"the run in {args.out} was",
                             "resume with the dataset the run was started on, or start a new run (--out) for this dataset")
    if is_main:
        # The run's config.json is a plain so-vits-svc config (validate_config's derived top-level
        # keys dropped), so --resume, svc export and upstream tools can read it back.
        saved = {k: v for k, v in config.items() if k not in ("version", "speech_encoder")}
        write_json_atomic(run_config_path, saved)
        write_json_atomic(run_info_path, {
            "dataset": os.path.abspath(args.dataset), "encoder": manifest.get("encoder"), "f0_method": manifest.get("f0_method"),
            "config": args.config, "speakers": manifest["speakers"], "base": os.path.abspath(args.base) if args.base else None})

    train_set = Dataset(args.dataset, manifest, config, "train")
    has_val = any(c["split"] == "val" for c in manifest["clips"])
    val_set = Dataset(args.dataset, manifest, config, "val") if has_val else train_set
    hop = data["hop_length"]
    segment_frames = train_cfg["segment_size"] // hop
    batch_size = args.batch_size or train_cfg["batch_size"]
    max_frames = args.max_frames or max(segment_frames * 3, 60)
    checkpoint_every = args.checkpoint_every or train_cfg.get("eval_interval", 800)
    total_steps = args.steps or 10000
    mel = MelScale(data, device)
    # svc's own keys (so-vits-svc ignores them): weight and (n_fft, hop) pairs of the STFT loss.
    c_stft = float(train_cfg.get("c_stft", 0.0))
    stft_resolutions = [(n_fft, hop, torch.hann_window(n_fft, device=device))
                        for n_fft, hop in train_cfg.get("stft_resolutions", [[512, 64], [1024, 128], [2048, 256]])]

    # --- model and optimizers -----------------------------------------------------------------
    torch.manual_seed(args.seed + rank)
    net_g = build_generator(config).to(device)
    net_d = build_discriminator(config).to(device)
    optim_g = torch.optim.AdamW(net_g.parameters(), train_cfg["learning_rate"], betas=train_cfg["betas"], eps=train_cfg["eps"])
    optim_d = torch.optim.AdamW(net_d.parameters(), train_cfg["learning_rate"], betas=train_cfg["betas"], eps=train_cfg["eps"])
    step, history = 0, []
    if args.resume:
        last = latest_checkpoint(args.out)
        if last is not None:
            # Our own checkpoints (with optimizer state): plain tensors and numbers, read as data.
            g_state = load_torch_file(os.path.join(args.out, f"G_{last}.pth"))
            d_state = load_torch_file(os.path.join(args.out, f"D_{last}.pth"))
            net_g.load_state_dict(g_state["model"])
            net_d.load_state_dict(d_state["model"])
            optim_g.load_state_dict(g_state["optimizer"])
            optim_d.load_state_dict(d_state["optimizer"])
            step = int(g_state["iteration"])
            history = g_state.get("svc", {}).get("history", [])
            if is_main:
                progress(f"resumed from step {step}", step=step)
        elif is_main:
            progress("no checkpoint to resume from; starting at step 0")
    if args.base and step == 0:
        # Fine-tuning as so-vits-svc users do from its G_0.pth/D_0.pth: weights only, step 0, fresh
        # optimizers. Without a D the discriminator starts from scratch (and fights a trained G).
        g_path, d_path = find_base(args.base)
        base_info = check_base_encoder(args.base, manifest)
        load_base_weights(net_g, load_torch_file(g_path)["model"], "generator", g_path)
        if d_path:
            load_base_weights(net_d, load_torch_file(d_path)["model"], "discriminator", d_path)
        if is_main:
            progress(f"starting from the pretrained base {g_path}" + (f" and {d_path}" if d_path else " (no D_ file: the discriminator starts from scratch)")
                     + (f", trained on {base_info}" if base_info else ""))
    # Per-step exponential decay equivalent to upstream's per-epoch lr_decay.
    steps_per_epoch = max(1, len(train_set.clips) // batch_size)
    gamma = train_cfg["lr_decay"] ** (1.0 / steps_per_epoch)
    for group in optim_g.param_groups + optim_d.param_groups:
        group["lr"] = train_cfg["learning_rate"] * gamma ** step
    model_g, model_d = net_g, net_d
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [device.index] if device.type == "cuda" else None
        model_g = DDP(net_g, device_ids=ids, find_unused_parameters=True)
        model_d = DDP(net_d, device_ids=ids, find_unused_parameters=True)
    use_amp = device.type == "cuda"
    scaler = torch.cuda.amp.GradScaler(enabled=use_amp)
    rng = random.Random(args.seed * 1000 + rank * 7919 + step)
    if is_main:
        emit("start", step=step, total=total_steps, parameters={"generator": count_parameters(net_g), "discriminator": count_parameters(net_d)},
             clips={"train": len(train_set.clips), "val": len(val_set.clips)}, device=str(device), world_size=world)

    def checkpoint(step_now):
        extra = {"history": history, "config": config}
        save_atomic({"model": net_g.state_dict(), "iteration": step_now, "optimizer": optim_g.state_dict(),
                     "learning_rate": optim_g.param_groups[0]["lr"], "svc": extra}, os.path.join(args.out, f"G_{step_now}.pth"))
        save_atomic({"model": net_d.state_dict(), "iteration": step_now, "optimizer": optim_d.state_dict(),
                     "learning_rate": optim_d.param_groups[0]["lr"]}, os.path.join(args.out, f"D_{step_now}.pth"))
        prune_checkpoints(args.out, int(train_cfg.get("keep_ckpts", 3)))
        # Validation audio from the first validation clip, and the loss curves so far.
        clip = val_set.clips[0]
        net_g.eval()
        with torch.no_grad():
            generator = torch.Generator().manual_seed(0)
            c = torch.from_numpy(clip["content"].T.copy())[None].to(device)
            f0 = torch.from_numpy(clip["f0"])[None].to(device)
            uv = torch.from_numpy(clip["uv"])[None].to(device)
            vol = torch.from_numpy(clip["vol"])[None].to(device)
            noise = torch.randn(1, net_g.inter_channels, f0.shape[1], generator=generator).to(device)
            audio, _ = net_g.infer(c, f0, uv, torch.tensor([clip["sid"]], device=device), noise_scale=0.4, vol=vol, noise=noise)
        net_g.train()
        os.makedirs(os.path.join(args.out, "val"), exist_ok=True)
        write_wav_pcm16(os.path.join(args.out, "val", f"step_{step_now}.wav"), audio[0, 0].cpu().numpy(), data["sampling_rate"])
        if history:
            write_json_atomic(os.path.join(args.out, "losses.json"), history)
            write_loss_plot(history, os.path.join(args.out, "losses.png"))
        emit("checkpoint", step=step_now, path=os.path.join(args.out, f"G_{step_now}.pth"))

    # --- train --------------------------------------------------------------------------------
    net_g.train()
    net_d.train()
    started, started_step = time.time(), step
    window = {"mel": [], "kl": [], "fm": [], "gen": [], "disc": [], "lf0": [], "stft": []}
    while step < total_steps:
        batch = {k: v.to(device) for k, v in train_set.batch(rng, batch_size, max_frames).items()}
        with torch.autocast(device.type, enabled=use_amp):
            y_hat, starts, z_mask, (z, z_p, m_p, logs_p, m_q, logs_q), pred_lf0, norm_lf0, lf0 = model_g(
                batch["c"], batch["f0"], batch["uv"], batch["spec"], g=batch["sid"], c_lengths=batch["lengths"],
                spec_lengths=batch["lengths"], vol=batch["vol"])
            y = torch.stack([batch["audio"][i, :, s * hop:(s + segment_frames) * hop] for i, s in enumerate(starts.tolist())])
            y_mel = slice_frames(mel(batch["spec"]), starts, segment_frames)
        y_hat_mel = mel(spectrogram(y_hat.squeeze(1).float(), data["filter_length"], hop, data["win_length"]))

        # Discriminator step.
        with torch.autocast(device.type, enabled=use_amp):
            real, fake, _, _ = model_d(y, y_hat.detach())
            loss_disc = discriminator_loss(real, fake)
        optim_d.zero_grad(set_to_none=True)
        scaler.scale(loss_disc).backward()
        scaler.step(optim_d)

        # Generator step.
        with torch.autocast(device.type, enabled=use_amp):
            real, fake, real_maps, fake_maps = model_d(y, y_hat)
            loss_mel = F.l1_loss(y_mel, y_hat_mel) * train_cfg["c_mel"]
            loss_kl = kl_loss(z_p, logs_q, m_p, logs_p, z_mask) * train_cfg["c_kl"]
            loss_fm = feature_loss(real_maps, fake_maps)
            loss_gen = generator_loss(fake)
            loss_lf0 = F.mse_loss(pred_lf0, lf0) if net_g.use_automatic_f0_prediction else torch.zeros((), device=device)
            loss_total = loss_mel + loss_kl + loss_fm + loss_gen + loss_lf0
            loss_stft = stft_loss(y.float(), y_hat.float(), stft_resolutions) * c_stft if c_stft > 0 else None
            if loss_stft is not None:
                loss_total = loss_total + loss_stft
        optim_g.zero_grad(set_to_none=True)
        scaler.scale(loss_total).backward()
        scaler.step(optim_g)
        scaler.update()
        for group in optim_g.param_groups + optim_d.param_groups:
            group["lr"] *= gamma
        step += 1

        for key, value in (("mel", loss_mel), ("kl", loss_kl), ("fm", loss_fm), ("gen", loss_gen), ("disc", loss_disc), ("lf0", loss_lf0), ("stft", loss_stft)):
            if value is not None:
                window[key].append(float(value.detach()))
        if is_main and (step % args.log_every == 0 or step == total_steps):
            losses = {k: float(np.mean(v)) for k, v in window.items() if v}
            window = {k: [] for k in window}
            history.append({"step": step, "losses": losses})
            rate = (step - started_step) / max(time.time() - started, 1e-9)
            emit("step", step=step, total=total_steps, losses=losses, steps_per_s=rate,
                 eta_s=(total_steps - step) / rate if rate > 0 else None, lr=optim_g.param_groups[0]["lr"])
        if is_main and (step % checkpoint_every == 0 or step == total_steps):
            checkpoint(step)
        if distributed:
            dist.barrier()

    if distributed:
        dist.destroy_process_group()
    if not is_main:
        return None
    return {"run": os.path.abspath(args.out), "step": step, "history": history[-1:] and history[:1] + history[-1:],
            "steps_per_s": (step - started_step) / max(time.time() - started, 1e-9)}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
