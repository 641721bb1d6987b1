"""The phone teacher: CMU pronunciations and pocketsphinx forced alignment.

pocketsphinx 0.8 (Debian) has no phone aligner on its command line, so each phone is made a
"word" of a one-phone dictionary and the utterance's phone sequence a linear JSGF grammar: the
FSG search then returns one segment per phone with start and end times (10 ms resolution), at
about 0.01 x real time. Silences and fillers the decoder inserts become SIL."""
import os
import re
import subprocess
import tempfile

import numpy as np

from ..events import SvcPyError

# SIL + the 39 CMU phones (stress removed), the en-us acoustic model's phone set.
PHONES = ["SIL", "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY",
          "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH"]
PHONE_INDEX = {p: i for i, p in enumerate(PHONES)}
MODEL_DIR = "/usr/share/pocketsphinx/model/en-us"
HOP_SECONDS = 0.02
WINDOW_SECONDS = 0.025


def read_cmudict(path=os.path.join(MODEL_DIR, "cmudict-en-us.dict")):
    """word -> phones of its first pronunciation (stress digits removed)."""
    if not os.path.exists(path):
        raise SvcPyError("FILE_NOT_FOUND", f"{path} is missing", "apt-get install pocketsphinx pocketsphinx-en-us")
    words = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and "(" not in parts[0]:
                words.setdefault(parts[0], [re.sub(r"\d", "", p) for p in parts[1:]])
    return words


def pronounce(text, cmudict):
    """Text -> phone list, or None when a word is not in the dictionary (the utterance is skipped
    rather than aligned to a guess)."""
    phones = []
    for word in re.findall(r"[a-z']+", text.lower().replace("-", " ")):
        word = word.strip("'")
        if not word:
            continue
        if word not in cmudict:
            return None
        phones += cmudict[word]
    return phones or None


def align(wav_path, phones):
    """Forced alignment of a 16 kHz mono PCM16 wav to its phone sequence -> [(phone, start_s,
    end_s)], or None when the decoder finds no path (audio and text disagree)."""
    with tempfile.TemporaryDirectory(prefix="svc-align-") as tmp:
        dict_path, grammar_path = os.path.join(tmp, "phones.dict"), os.path.join(tmp, "utt.jsgf")
        with open(dict_path, "w", encoding="utf-8") as handle:
            handle.writelines(f"{p.lower()} {p}\n" for p in sorted(set(phones)))
        with open(grammar_path, "w", encoding="utf-8") as handle:
            handle.write("#JSGF V1.0;\ngrammar utt;\npublic <s> = " + " ".join(p.lower() for p in phones) + " ;\n")
        run = subprocess.run(["pocketsphinx_continuous", "-infile", wav_path, "-hmm", os.path.join(MODEL_DIR, "en-us"),
                              "-jsgf", grammar_path, "-dict", dict_path, "-time", "yes", "-logfn", "/dev/null"],
                             capture_output=True, text=True, check=False)
    segments = []
    for line in run.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and re.fullmatch(r"[0-9.]+", parts[1]) and re.fullmatch(r"[0-9.]+", parts[2]):
            name = parts[0].upper()
            segments.append((name if name in PHONE_INDEX else "SIL", float(parts[1]), float(parts[2])))
    aligned = [s for s in segments if s[0] != "SIL"]
    return segments if len(aligned) == len(phones) else None


def frame_labels(segments, frames):
    """Phone index per encoder row: row t covers samples [320 t, 320 t + 400), labelled by the
    segment holding its centre (SIL where none does)."""
    labels = np.zeros(frames, dtype=np.int64)
    centres = np.arange(frames) * HOP_SECONDS + WINDOW_SECONDS / 2
    for name, start, end in segments:
        # pocketsphinx reports inclusive 10 ms frames: a segment ends at end + 10 ms.
        labels[(centres >= start) & (centres < end + 0.01)] = PHONE_INDEX[name]
    return labels
