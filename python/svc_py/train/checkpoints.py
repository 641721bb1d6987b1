"""Checkpoints in so-vits-svc's layout: G_<step>.pth {model, iteration, optimizer, learning_rate}
(+ svc's loss history and config) and D_<step>.pth, written atomically; resuming from the newest
complete pair; and pretrained bases (--base) whose weights start a fine-tune."""
import glob
import json
import os
import re

import torch

from ..events import SvcPyError
from ..safe_pickle import load_torch_file


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
    Returns the base's info ({} without one): `trained_on` line and `speakers` map, if any."""
    folder = base if os.path.isdir(base) else os.path.dirname(base)
    for name in ("base.json", "run.json"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                info = json.load(handle)
            require_same_encoder(info, manifest, f"--base {base} was",
                                 "preprocess with the base's encoder, pick a base made for this dataset's encoder, or --base none")
            return info
    return {}


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


def save_checkpoint(run_dir, step, net_g, net_d, optim_g, optim_d, history, config, keep, batch_rng):
    """G_<step>.pth (upstream's keys + svc's loss history, config and random states) and
    D_<step>.pth, then prunes all but the newest `keep` pairs."""
    save_atomic({"model": net_g.state_dict(), "iteration": step, "optimizer": optim_g.state_dict(),
                 "learning_rate": optim_g.param_groups[0]["lr"],
                 "svc": {"history": history, "config": config, "random_state": random_state(batch_rng)}},
                os.path.join(run_dir, f"G_{step}.pth"))
    save_atomic({"model": net_d.state_dict(), "iteration": step, "optimizer": optim_d.state_dict(),
                 "learning_rate": optim_d.param_groups[0]["lr"]}, os.path.join(run_dir, f"D_{step}.pth"))
    prune_checkpoints(run_dir, keep)


def resume_checkpoint(run_dir, net_g, net_d, optim_g, optim_d):
    """Loads the newest complete pair into the nets and optimizers. Returns (step, history, random
    state or None for checkpoints without one), or None when run_dir holds no checkpoint. Our own checkpoints hold plain tensors and numbers,
    read as data (safe_pickle)."""
    last = latest_checkpoint(run_dir)
    if last is None:
        return None
    g_state = load_torch_file(os.path.join(run_dir, f"G_{last}.pth"))
    d_state = load_torch_file(os.path.join(run_dir, f"D_{last}.pth"))
    net_g.load_state_dict(g_state["model"])
    net_d.load_state_dict(d_state["model"])
    optim_g.load_state_dict(g_state["optimizer"])
    optim_d.load_state_dict(d_state["optimizer"])
    svc = g_state.get("svc", {})
    return int(g_state["iteration"]), svc.get("history", []), svc.get("random_state")


def random_state(batch_rng):
    """The batch sampler's and torch's CPU random states, as plain data: with them a resumed run
    draws the same batches, slices and noise as a run that was never stopped, so where a kill
    lands does not change the trained model."""
    version, internal, gauss = batch_rng.getstate()
    return {"python": [version, list(internal), gauss], "torch": torch.get_rng_state()}


def restore_random_state(batch_rng, state):
    version, internal, gauss = state["python"]
    batch_rng.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])


def start_from_base(base, manifest, net_g, net_d):
    """Fine-tuning as so-vits-svc users do from its G_0.pth/D_0.pth: weights only (the caller keeps
    step 0 and fresh optimizers). Without a D the discriminator starts from scratch (and fights a
    trained G). Returns (the line to report, the base's speakers {name: row} or None)."""
    g_path, d_path = find_base(base)
    info = check_base_encoder(base, manifest)
    base_info = info.get("trained_on")
    load_base_weights(net_g, load_torch_file(g_path)["model"], "generator", g_path)
    if d_path:
        load_base_weights(net_d, load_torch_file(d_path)["model"], "discriminator", d_path)
    return (f"starting from the pretrained base {g_path}" + (f" and {d_path}" if d_path else " (no D_ file: the discriminator starts from scratch)")
            + (f", trained on {base_info}" if base_info else "")), info.get("speakers")
