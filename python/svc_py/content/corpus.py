"""The teacher's training speech: transcribed shared recordings that may go into a shipped model,
plus espeak-ng speech for coverage, each written as 16 kHz mono PCM16 with its text.

Licences (../shared/data/SOURCES.md): CMU ARCTIC (free use, CMU notice kept), Kathleen (CC0),
VCTK (CC BY 4.0), LJ Speech (public domain). VCC 2016 (licence unverified) is never read here:
it is the quality benchmark's test data. LibriSpeech has no transcripts in the shared copy."""
import glob
import os
import random
import re
import subprocess

import numpy as np
import torch
import torchaudio

from ..events import SvcPyError
from ..train.outputs import write_wav_pcm16

RATE = 16000
# espeak-ng voices and variants for synthetic coverage (formant synthesis: many vocal tracts).
ESPEAK_VOICES = ["en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"]
ESPEAK_VARIANTS = ["", "+m1", "+m3", "+m5", "+f1", "+f2", "+f4", "+klatt"]


def read_audio(path):
    """Any wav/flac -> mono float32 at 16 kHz."""
    audio, rate = torchaudio.load(path)
    audio = audio.mean(0)
    if rate != RATE:
        audio = torchaudio.functional.resample(audio, rate, RATE)
    return audio.numpy().astype(np.float32)


def write_wav16(path, audio):
    write_wav_pcm16(path, audio, RATE)


def sources_md_texts(data_root):
    """file (relative to shared/data) -> text column of SOURCES.md's per-file tables."""
    texts = {}
    with open(os.path.join(data_root, "SOURCES.md"), encoding="utf-8") as handle:
        for line in handle:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) >= 7 and cells[1].startswith("`speech/") and cells[6]:
                texts[cells[1].strip("`")] = cells[6]
    return texts


def arctic_prompts(data_root):
    prompts = {}
    with open(os.path.join(data_root, "speech", "cmu_arctic_16k", "cmuarctic.data"), encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r'\(\s*(\S+)\s+"(.*)"\s*\)', line.strip())
            if match:
                prompts[match.group(1)] = match.group(2)
    return prompts


def recorded_utterances(data_root):
    """[(utterance id, speaker, audio path, text, licence)] of every transcribed shippable recording."""
    speech = os.path.join(data_root, "speech")
    prompts, texts = arctic_prompts(data_root), sources_md_texts(data_root)
    out = []
    for path in sorted(glob.glob(os.path.join(speech, "cmu_arctic_16k", "*", "arctic_*.wav"))):
        speaker, stem = os.path.basename(os.path.dirname(path)), os.path.basename(path)[:-4]
        if stem in prompts:
            out.append((f"arctic_{speaker}_{stem}", f"arctic_{speaker}", path, prompts[stem], "CMU ARCTIC (free use)"))
    for path in sorted(glob.glob(os.path.join(speech, "kathleen_arctic_cc0_48k", "arctic_*.wav"))):
        with open(path[:-4] + ".txt", encoding="utf-8") as handle:
            out.append((f"kathleen_{os.path.basename(path)[:-4]}", "kathleen", path, handle.read().strip(), "CC0"))
    for folder, licence in (("vctk_autovc_16k", "CC BY 4.0 (VCTK)"), ("vctk_starganv2_demo_48k", "CC BY 4.0 (VCTK)"), ("ljspeech_22k", "public domain (LJ Speech)")):
        for path in sorted(glob.glob(os.path.join(speech, folder, "**", "*.wav"), recursive=True)):
            rel = os.path.relpath(path, data_root)
            if rel in texts:
                stem = os.path.basename(path)[:-4]
                speaker = "lj" if folder.startswith("lj") else stem.split("_")[0]
                out.append((f"{folder}_{stem}", speaker, path, texts[rel], licence))
    if not out:
        raise SvcPyError("FILE_NOT_FOUND", f"{data_root}: no transcribed speech found", "pass the shared data folder (../shared/data)")
    return out


def synthesize_espeak(text, voice, variant, path, rng):
    """espeak-ng speech of `text` at a random speed and pitch, written as 16 kHz PCM16."""
    raw = path + ".raw.wav"
    subprocess.run(["espeak-ng", "-v", voice + variant, "-s", str(rng.randint(130, 190)), "-p", str(rng.randint(25, 75)),
                    "-w", raw, text], check=True, capture_output=True)
    try:
        write_wav16(path, read_audio(raw))
    finally:
        os.remove(raw)


def build_corpus(data_root, work_dir, synthetic, seed=0):
    """Writes every utterance as WORK/wav/<id>.wav (16 kHz) and returns [(id, speaker, wav, text,
    licence)]: the recordings, then `synthetic` espeak-ng utterances of ARCTIC prompts that no
    shared recording speaks (random voice, variant, speed and pitch)."""
    os.makedirs(os.path.join(work_dir, "wav"), exist_ok=True)
    rng = random.Random(seed)
    items = []
    for utt, speaker, path, text, licence in recorded_utterances(data_root):
        out = os.path.join(work_dir, "wav", utt + ".wav")
        if not os.path.exists(out):
            write_wav16(out, read_audio(path))
        items.append((utt, speaker, out, text, licence))
    recorded_prompts = {t for _, _, _, t, _ in items}
    unrecorded = [t for k, t in sorted(arctic_prompts(data_root).items()) if t not in recorded_prompts]
    rng.shuffle(unrecorded)
    for n, text in enumerate(unrecorded[:synthetic]):
        voice, variant = rng.choice(ESPEAK_VOICES), rng.choice(ESPEAK_VARIANTS)
        utt = f"espeak_{n:04d}"
        out = os.path.join(work_dir, "wav", utt + ".wav")
        if not os.path.exists(out):
            synthesize_espeak(text, voice, variant, out, rng)
        items.append((utt, f"espeak_{voice}{variant}", out, text, "synthetic (espeak-ng, GPL-3 program; output unrestricted)"))
    return items
