"""What a run folder shows a person: the loss history (losses.json, losses.png) and validation
audio (val/step_<N>.wav), all written atomically so a kill never leaves half a file."""
import json
import os
import wave

import numpy as np
import torch


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


def write_validation_audio(net_g, clip, device, path, rate):
    """Resynthesises one validation clip (fixed noise, noise_scale 0.4, as so-vits-svc infers) so a
    person can hear each checkpoint. The vocoder's sine source draws noise from torch's global
    generator: forked here, so listening to a run never changes what it trains."""
    net_g.eval()
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        generator = torch.Generator().manual_seed(0)
        c = torch.from_numpy(clip["content"].T.copy())[None].to(device)
        f0 = torch.from_numpy(clip["f0"])[None].to(device)
        uv = torch.from_numpy(clip["uv"])[None].to(device)
        vol = torch.from_numpy(clip["vol"])[None].to(device)
        noise = torch.randn(1, net_g.inter_channels, f0.shape[1], generator=generator).to(device)
        audio, _ = net_g.infer(c, f0, uv, torch.tensor([clip["sid"]], device=device), noise_scale=0.4, vol=vol, noise=noise)
    net_g.train()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_wav_pcm16(path, audio[0, 0].cpu().numpy(), rate)


def write_loss_history(run_dir, history):
    """losses.json and losses.png from the history so far (nothing before the first log line)."""
    if history:
        write_json_atomic(os.path.join(run_dir, "losses.json"), history)
        write_loss_plot(history, os.path.join(run_dir, "losses.png"))
