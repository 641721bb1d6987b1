"""`python -m svc_py.content.train --data ../shared/data --work WORK --out models/svc_phone_encoder`

Rebuilds svc's content encoder from the shared data and Debian packages (scripts/make-content-
encoder.sh runs it): corpus -> pocketsphinx forced alignment (one phone per 20 ms) -> train the
causal encoder to predict phones from perturbed spectra -> score -> export encoder.onnx with
scores.json. Read top to bottom."""
import argparse
import glob
import json
import os
import random
import time

import numpy as np
import torch
from torch.nn import functional as F

from ..encoders import export_encoder
from ..events import emit, progress, run_main
from .corpus import build_corpus, read_audio
from .model import HOP_SAMPLES, WINDOW_SAMPLES, PhoneEncoder, PosteriorOutput, perturb
from .phones import PHONES, align, frame_labels, pronounce, read_cmudict

WINDOW_FRAMES = 100  # 2 s training windows


def frames_of(samples):
    return max(0, (samples - WINDOW_SAMPLES) // HOP_SAMPLES + 1)


def labelled_corpus(items, work_dir):
    """[(id, speaker, audio, labels)] for every utterance the teacher aligns (labels cached)."""
    cmudict = read_cmudict()
    os.makedirs(os.path.join(work_dir, "labels"), exist_ok=True)
    out, skipped = [], []
    for utt, speaker, wav, text, _ in items:
        audio = read_audio(wav)
        cache = os.path.join(work_dir, "labels", utt + ".npy")
        if os.path.exists(cache):
            labels = np.load(cache)
        else:
            phones = pronounce(text, cmudict)
            segments = align(wav, phones) if phones else None
            if segments is None:
                skipped.append(utt)
                continue
            labels = frame_labels(segments, frames_of(len(audio)))
            np.save(cache, labels)
        out.append((utt, speaker, audio, labels))
    return out, skipped


def batches(clips, rng, batch_size):
    """Random 2 s windows starting on a frame boundary -> audio [B, 1, N], labels [B, T]."""
    audio, labels = [], []
    for _ in range(batch_size):
        _, _, wav, lab = clips[rng.randrange(len(clips))]
        frames = min(WINDOW_FRAMES, len(lab))
        start = rng.randrange(len(lab) - frames + 1)
        a = wav[start * HOP_SAMPLES:start * HOP_SAMPLES + (frames - 1) * HOP_SAMPLES + WINDOW_SAMPLES]
        audio.append(np.pad(a, (0, (WINDOW_FRAMES - 1) * HOP_SAMPLES + WINDOW_SAMPLES - len(a))))
        labels.append(np.pad(lab[start:start + frames], (0, WINDOW_FRAMES - frames), constant_values=-100))
    return torch.from_numpy(np.stack(audio))[:, None], torch.from_numpy(np.stack(labels))


def phone_accuracy(model, clips):
    model.eval()
    right = total = 0
    with torch.no_grad():
        for _, _, wav, lab in clips:
            pred = model.logits(model.power(torch.from_numpy(wav)[None, None])).argmax(1)[0][:len(lab)]
            right += int((pred == torch.from_numpy(lab[:len(pred)])).sum())
            total += len(pred)
    model.train()
    return right / max(total, 1)


def speaker_probe(features_of, data_root, pair, seed=0):
    """Accuracy of a small MLP telling two VCC 2016 speakers apart from single feature rows:
    trained on utterances 100001-100020, tested on 100021-100030 (unseen frames and sentences),
    speech rows only. 50 % = no speaker information; log-mel gives ~100 %."""
    utterances = {}
    for speaker in pair:
        for path in sorted(glob.glob(os.path.join(data_root, "speech", "vcc2016_16k", speaker, "*.wav"))):
            wav = read_audio(path)
            utterances.setdefault(speaker, []).append((int(os.path.basename(path)[:-4]), wav, features_of(wav)))
    return probe_accuracy(utterances, pair, seed)


def probe_accuracy(utterances, pair, seed=0):
    """speaker -> [(utterance number, 16 kHz audio, rows [T, D] at 20 ms)] -> the probe's accuracy
    on utterances 100021-100030 after training on 100001-100020 (see speaker_probe)."""
    from sklearn.neural_network import MLPClassifier
    sets = {"train": ([], []), "test": ([], [])}
    for label, speaker in enumerate(pair):
        for number, wav, rows in utterances[speaker]:
            split = "train" if number <= 100020 else "test" if number <= 100030 else None
            if split is None:
                continue
            energy = np.array([np.mean(wav[t * HOP_SAMPLES:t * HOP_SAMPLES + WINDOW_SAMPLES] ** 2) for t in range(len(rows))])
            speech = energy > 1e-4 * energy.max() * 10
            sets[split][0].append(rows[speech])
            sets[split][1].append(np.full(int(speech.sum()), label))
    x_train, y_train = np.concatenate(sets["train"][0]), np.concatenate(sets["train"][1])
    x_test, y_test = np.concatenate(sets["test"][0]), np.concatenate(sets["test"][1])
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    probe = MLPClassifier(hidden_layer_sizes=(128,), max_iter=200, early_stopping=True, random_state=seed)
    probe.fit((x_train - mean) / std, y_train)
    return float(probe.score((x_test - mean) / std, y_test))


def main():
    parser = argparse.ArgumentParser(prog="svc_py.content.train")
    parser.add_argument("--data", required=True, help="the shared data folder (../shared/data)")
    parser.add_argument("--work", required=True, help="scratch folder: 16 kHz copies, espeak-ng speech, alignments")
    parser.add_argument("--out", required=True, help="model folder to write (encoder.onnx, scores.json, checkpoint)")
    parser.add_argument("--synthetic", type=int, default=300, help="espeak-ng utterances of unrecorded ARCTIC prompts")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", choices=["embed", "posteriors"], default="posteriors",
                        help="what encoder.onnx returns: the 256-d bottleneck or the 40 phone posteriors")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    # --- corpus and teacher labels ------------------------------------------------------------
    started = time.time()
    items = build_corpus(args.data, args.work, args.synthetic, args.seed)
    clips, skipped = labelled_corpus(items, args.work)
    progress(f"{len(clips)} utterances aligned ({len(skipped)} skipped: out-of-dictionary words or no path) in {time.time() - started:.0f} s")
    # Validation: every 10th recorded utterance (phone accuracy on real speech the model never saw).
    recorded = [c for c in clips if not c[0].startswith("espeak_")]
    val = recorded[::10]
    train = [c for c in clips if c not in val]

    # --- model and training -------------------------------------------------------------------
    model = PhoneEncoder()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=args.steps, pct_start=0.1)
    model.train()
    started, window = time.time(), []
    for step in range(1, args.steps + 1):
        audio, labels = batches(train, rng, args.batch_size)
        power = model.power(audio)
        if torch.rand((), generator=generator) < 0.9:
            power = perturb(power, generator)
        loss = F.cross_entropy(model.logits(power), labels, ignore_index=-100)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        window.append(float(loss))
        if step % 50 == 0 or step == args.steps:
            emit("step", step=step, total=args.steps, losses={"ce": float(np.mean(window))}, steps_per_s=step / (time.time() - started))
            window = []

    # --- scores and export ----------------------------------------------------------------------
    model.eval()
    os.makedirs(args.out, exist_ok=True)

    def embed_rows(wav):
        with torch.no_grad():
            return model(torch.from_numpy(wav)[None, None])[0].numpy()

    def posterior_rows(wav):
        with torch.no_grad():
            return PosteriorOutput(model)(torch.from_numpy(wav)[None, None])[0].numpy()

    def logmel_rows(wav):
        with torch.no_grad():
            return torch.log(torch.matmul(model.mel, model.power(torch.from_numpy(wav)[None, None])) + 1e-6)[0].T.numpy()

    scores = {
        "phone_accuracy_val": phone_accuracy(model, val),
        "val_utterances": len(val), "train_utterances": len(train), "skipped_utterances": len(skipped),
        "speaker_probe": {f"{a}-{b}": {name: speaker_probe(rows, args.data, (a, b)) for name, rows in (("embed", embed_rows), ("posteriors", posterior_rows), ("logmel", logmel_rows))}
                          for a, b in (("SF1", "TF1"), ("SM1", "TM1"))},
        "steps": args.steps, "seed": args.seed, "phones": PHONES,
        "corpus": sorted({f"{speaker}: {licence}" for _, speaker, _, _, licence in items}),
    }
    progress(json.dumps({k: v for k, v in scores.items() if k not in ("phones", "corpus")}))
    torch.save({"model": model.state_dict(), "scores": scores}, os.path.join(args.out, "phone_encoder.pth"))
    export_encoder(PosteriorOutput(model) if args.output == "posteriors" else model, os.path.join(args.out, "encoder.onnx"), opset=13)
    scores["output"] = args.output
    with open(os.path.join(args.out, "scores.json"), "w", encoding="utf-8") as handle:
        json.dump(scores, handle, indent=2)
    return {"out": os.path.abspath(args.out), "scores": {k: v for k, v in scores.items() if k not in ("phones", "corpus")}}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
