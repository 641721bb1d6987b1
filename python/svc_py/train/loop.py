"""`python -m svc_py.train --dataset DATASET --out RUN [--config tiny|standard|FILE] [--steps N] [--resume]`

The So-VITS-SVC training loop, meant to be read top to bottom: arguments, processes, run folder and
config, data, model, resume or base, then the loop. It trains the generator
(svc_py.sovits.models.SynthesizerTrn) against the multi-period + scale discriminator as so-vits-svc
does: mel L1 (x c_mel), KL (x c_kl), feature matching, least-squares adversarial losses, the
f0-predictor MSE when the config enables it, and svc's multi-resolution STFT loss (x c_stft).

Progress goes to stdout as JSON lines (svc_py.events), which `svc train` turns into a progress bar.
Checkpoints (G_<step>.pth in upstream's layout, D_<step>.pth) are written atomically every
--checkpoint-every steps with optimizer state; --resume continues from the newest complete pair,
so a kill at any moment loses at most the steps since the last checkpoint.

Reproducible: a fixed --seed gives the same weights, batches and losses on one machine at one
--threads count (deterministic algorithms only). Other thread counts or CPUs sum floats in another
order, so a GAN's trajectory drifts: tests assert margins measured across thread counts.

Scale-out: run under `torchrun --nproc_per_node N -m svc_py.train ...` and each process trains on
its own random batches under DistributedDataParallel (gloo on CPU, nccl on CUDA); rank 0 writes.
"""
import argparse
import json
import os
import random
import time

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F

from ..events import SvcPyError, emit, progress
from ..sovits.config import DERIVED_TOP_KEYS, read_config
from ..sovits.models import build_generator, count_parameters
from .checkpoints import require_same_encoder, restore_random_state, resume_checkpoint, save_checkpoint, start_from_base
from .config import load_config
from .data import Dataset, MelScale, slice_frames, spectrogram
from .model import build_discriminator, discriminator_loss, feature_loss, generator_loss, kl_loss, stft_loss
from .voice_start import start_new_voices
from .outputs import write_json_atomic, write_loss_history, write_validation_audio

LOSS_NAMES = ("mel", "kl", "fm", "gen", "disc", "lf0", "stft")


def parse_args():
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
    return parser.parse_args()


def read_manifest(dataset_dir):
    path = os.path.join(dataset_dir, "manifest.json")
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"{dataset_dir}: no manifest.json, so this is not a finished svc dataset",
                         "run svc preprocess IN_DIR --out DATASET first (an interrupted run can be resumed)")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_config(args, manifest):
    """The config this run trains: the run's own config.json on --resume, else --config with the
    dataset's speakers filled in; checked against the dataset (rate, hop, content width, and on
    --resume the encoder the run started with)."""
    run_config_path = os.path.join(args.out, "config.json")
    if args.resume and os.path.exists(run_config_path):
        config = read_config(run_config_path)
    else:
        config = load_config(args.config)
        config["spk"] = dict(manifest["speakers"])
        config["model"]["n_speakers"] = max(config["model"]["n_speakers"], len(manifest["speakers"]))
    data = config["data"]
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
    return config


def write_run_files(args, manifest, config):
    """config.json as a plain so-vits-svc config (validate_config's derived top-level keys dropped),
    so --resume, svc export and upstream tools can read it back; run.json for svc export."""
    saved = {k: v for k, v in config.items() if k not in DERIVED_TOP_KEYS}
    write_json_atomic(os.path.join(args.out, "config.json"), saved)
    write_json_atomic(os.path.join(args.out, "run.json"), {
        "dataset": os.path.abspath(args.dataset), "encoder": manifest.get("encoder"), "f0_method": manifest.get("f0_method"),
        "config": args.config, "speakers": manifest["speakers"], "base": os.path.abspath(args.base) if args.base else None})


def main():
    args = parse_args()

    # --- processes: one, or one per torchrun rank ---------------------------------------------
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    distributed = world > 1
    is_main = rank == 0
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else torch.device("cpu")
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    # One intra-op thread per process unless asked: on a shared 2-core CPU, 2 OpenMP threads per
    # process measured 10-20x slower per step than 1 (spinning threads fight other processes).
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // (2 * world)))
    # Same seed, same machine, same threads -> same run. warn_only: an op without a deterministic
    # kernel (none on the CPU paths this trainer uses) warns instead of failing a user's run.
    torch.use_deterministic_algorithms(True, warn_only=True)

    # --- run folder, config and data ----------------------------------------------------------
    manifest = read_manifest(args.dataset)
    os.makedirs(args.out, exist_ok=True)
    config = run_config(args, manifest)
    if is_main:
        write_run_files(args, manifest, config)
    data, train_cfg = config["data"], config["train"]
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
    stft_resolutions = [(n_fft, stft_hop, torch.hann_window(n_fft, device=device))
                        for n_fft, stft_hop in train_cfg.get("stft_resolutions", [[512, 64], [1024, 128], [2048, 256]])]

    # --- model and optimizers: resumed, from a pretrained base, or random -------------------------
    torch.manual_seed(args.seed + rank)
    net_g = build_generator(config).to(device)
    net_d = build_discriminator(config).to(device)
    optim_g = torch.optim.AdamW(net_g.parameters(), train_cfg["learning_rate"], betas=train_cfg["betas"], eps=train_cfg["eps"])
    optim_d = torch.optim.AdamW(net_d.parameters(), train_cfg["learning_rate"], betas=train_cfg["betas"], eps=train_cfg["eps"])
    step, history, saved_random_state = 0, [], None
    if args.resume:
        resumed = resume_checkpoint(args.out, net_g, net_d, optim_g, optim_d)
        if resumed is not None:
            step, history, saved_random_state = resumed
        if is_main:
            progress(f"resumed from step {step}" if resumed else "no checkpoint to resume from; starting at step 0", step=step)
    if args.base and step == 0:
        line, base_speakers = start_from_base(args.base, manifest, net_g, net_d)
        if is_main:
            progress(line)
        # Same on every rank (deterministic inference on the same clips), so DDP replicas agree.
        for line in start_new_voices(net_g, base_speakers, manifest, train_set, mel, data):
            if is_main:
                progress(line)
    # Per-step exponential decay equivalent to upstream's per-epoch lr_decay. A resumed run keeps
    # the learning rate its optimizer state saved (the product of every step's decay, bit for bit).
    steps_per_epoch = max(1, len(train_set.clips) // batch_size)
    gamma = train_cfg["lr_decay"] ** (1.0 / steps_per_epoch)
    if step == 0:
        for group in optim_g.param_groups + optim_d.param_groups:
            group["lr"] = train_cfg["learning_rate"]
    model_g, model_d = net_g, net_d
    if distributed:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [device.index] if device.type == "cuda" else None
        model_g = DDP(net_g, device_ids=ids, find_unused_parameters=True)
        model_d = DDP(net_d, device_ids=ids, find_unused_parameters=True)
    use_amp = device.type == "cuda"
    scaler = torch.cuda.amp.GradScaler(enabled=use_amp)
    rng = random.Random(args.seed * 1000 + rank * 7919 + step)
    if saved_random_state is not None and not distributed:
        # Continue the stopped run's random streams (rank 0's only are saved, so not under DDP).
        restore_random_state(rng, saved_random_state)
    if is_main:
        emit("start", step=step, total=total_steps, parameters={"generator": count_parameters(net_g), "discriminator": count_parameters(net_d)},
             clips={"train": len(train_set.clips), "val": len(val_set.clips)}, device=str(device), world_size=world)

    # --- the loop -------------------------------------------------------------------------------
    net_g.train()
    net_d.train()
    started, started_step = time.time(), step
    window = {name: [] for name in LOSS_NAMES}
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

        # Log the mean losses of the last --log-every steps; checkpoint every --checkpoint-every.
        for name, value in zip(LOSS_NAMES, (loss_mel, loss_kl, loss_fm, loss_gen, loss_disc, loss_lf0, loss_stft)):
            if value is not None:
                window[name].append(float(value.detach()))
        if is_main and (step % args.log_every == 0 or step == total_steps):
            losses = {k: float(np.mean(v)) for k, v in window.items() if v}
            window = {name: [] for name in LOSS_NAMES}
            history.append({"step": step, "losses": losses})
            rate = (step - started_step) / max(time.time() - started, 1e-9)
            emit("step", step=step, total=total_steps, losses=losses, steps_per_s=rate,
                 eta_s=(total_steps - step) / rate if rate > 0 else None, lr=optim_g.param_groups[0]["lr"])
        if is_main and (step % checkpoint_every == 0 or step == total_steps):
            save_checkpoint(args.out, step, net_g, net_d, optim_g, optim_d, history, config, int(train_cfg.get("keep_ckpts", 3)), rng)
            write_validation_audio(net_g, val_set.clips[0], device, os.path.join(args.out, "val", f"step_{step}.wav"), data["sampling_rate"])
            write_loss_history(args.out, history)
            emit("checkpoint", step=step, path=os.path.join(args.out, f"G_{step}.pth"))
        if distributed:
            dist.barrier()

    if distributed:
        dist.destroy_process_group()
    if not is_main:
        return None
    return {"run": os.path.abspath(args.out), "step": step, "history": history[-1:] and history[:1] + history[-1:],
            "steps_per_s": (step - started_step) / max(time.time() - started, 1e-9)}
