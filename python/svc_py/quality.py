"""`python -m svc_py.quality JOB.json`: the scorers of the quality benchmark (bench/quality.bench.ts)
that need scikit-learn, independent of every model svc trains.

- Speaker verification, GMM-UBM (Reynolds et al. 2000): 20 MFCCs + deltas per 10 ms frame (25 ms
  Hann window, 40 mel bands, 0-8 kHz, energy VAD, per-utterance mean/variance normalisation); a
  64-component diagonal UBM fitted on real speech only (the job's `ubm` files: shared speech that
  no model output is part of); each target's model MAP-adapts the UBM means (relevance 16) to the
  target's real enrolment utterances. A trial's score is the mean per-frame log-likelihood ratio
  target vs UBM. The threshold is the equal-error point between real held-out utterances of the
  target (`genuine`) and real utterances of other speakers (`impostor`); `trials` (converted
  speech) are then accepted or not at that threshold.
- Speaker probe on content features (svc_py.content.train.probe_accuracy): rows the bench wrote
  as .npy beside 16 kHz wavs.

The job and the answer are JSON (the answer is the last stdout line, as svc_py modules report)."""
import argparse
import json

import numpy as np

from .content.corpus import read_audio
from .events import progress, run_main

SAMPLE_RATE, WINDOW_SAMPLES, HOP_SAMPLES, N_FFT, N_MELS, N_MFCC = 16000, 400, 160, 512, 40, 20


def mel_filters():
    """[N_MELS, N_FFT/2+1] triangular filters on the HTK mel scale, 0-8 kHz."""
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)
    edges = hz(np.linspace(mel(0), mel(SAMPLE_RATE / 2), N_MELS + 2))
    bins = np.fft.rfftfreq(N_FFT, 1 / SAMPLE_RATE)
    filters = np.zeros((N_MELS, len(bins)))
    for m in range(N_MELS):
        lo, mid, hi = edges[m:m + 3]
        filters[m] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return filters


FILTERS = mel_filters()
DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[None] + 0.5) * np.arange(1, N_MFCC + 1)[:, None])  # c1..c20


def mfcc(audio):
    """16 kHz mono -> [frames, 40] (20 MFCCs c1..c20 + deltas), speech frames only, normalised."""
    if len(audio) < WINDOW_SAMPLES:
        return np.zeros((0, 2 * N_MFCC))
    frames = np.lib.stride_tricks.sliding_window_view(audio, WINDOW_SAMPLES)[::HOP_SAMPLES] * np.hanning(WINDOW_SAMPLES)
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    energy_db = 10 * np.log10(power.sum(1) + 1e-10)
    cepstra = np.log(power @ FILTERS.T + 1e-8) @ DCT.T
    padded = np.pad(cepstra, ((2, 2), (0, 0)), mode="edge")
    deltas = (padded[4:] - padded[:-4] + 2 * (padded[3:-1] - padded[1:-3])) / 10
    features = np.concatenate([cepstra, deltas], 1)[energy_db > energy_db.max() - 30]
    return (features - features.mean(0)) / (features.std(0) + 1e-6)


def map_adapt(ubm, features, relevance=16.0):
    """A copy of the UBM whose means moved toward `features` (MAP, means only)."""
    from copy import deepcopy
    posteriors = ubm.predict_proba(features)  # [frames, components]
    counts = posteriors.sum(0)
    first = posteriors.T @ features / np.maximum(counts[:, None], 1e-10)
    alpha = (counts / (counts + relevance))[:, None]
    model = deepcopy(ubm)
    model.means_ = alpha * first + (1 - alpha) * ubm.means_
    return model


def equal_error_threshold(genuine, impostor):
    """(threshold, EER): the score where the false-rejection and false-acceptance rates cross; the
    threshold sits halfway between that score and the next lower one, so a separable set gets the
    middle of the gap, not its most lenient edge."""
    scores = np.sort(np.concatenate([genuine, impostor]))
    best = None
    for i, threshold in enumerate(scores):
        frr = float(np.mean(genuine < threshold))
        far = float(np.mean(impostor >= threshold))
        if best is None or abs(frr - far) < best[2]:
            best = (i, (frr + far) / 2, abs(frr - far))
    i = best[0]
    return float((scores[i] + scores[i - 1]) / 2 if i > 0 else scores[i]), best[1]


def verify(job, seed):
    from sklearn.mixture import GaussianMixture
    ubm_frames = np.concatenate([mfcc(read_audio(path)) for path in job["ubm"]])
    progress(f"UBM: {len(job['ubm'])} real utterances, {len(ubm_frames)} speech frames")
    ubm = GaussianMixture(64, covariance_type="diag", max_iter=100, random_state=seed, reg_covar=1e-3).fit(ubm_frames)
    result = {}
    for target, spec in job["targets"].items():
        model = map_adapt(ubm, np.concatenate([mfcc(read_audio(path)) for path in spec["enroll"]]))

        def score(path):
            features = mfcc(read_audio(path))
            return float(np.mean(model.score_samples(features) - ubm.score_samples(features)))

        genuine = np.array([score(p) for p in spec["genuine"]])
        impostor = np.array([score(p) for p in spec["impostor"]])
        threshold, eer = equal_error_threshold(genuine, impostor)
        trials = {name: [score(p) for p in paths] for name, paths in spec["trials"].items()}
        result[target] = {
            "threshold": threshold, "eer": eer, "genuine": genuine.tolist(), "impostor": impostor.tolist(),
            "accepted": {name: float(np.mean(np.array(s) >= threshold)) for name, s in trials.items()},
            "scores": trials,
        }
    return result


def main():
    parser = argparse.ArgumentParser(prog="svc_py.quality")
    parser.add_argument("job", help="JSON: {asv: {ubm: [wav], targets: {T: {enroll, genuine, impostor: [wav], trials: {name: [wav]}}}}, "
                                    "probe: {pairs: [[A, B]], utterances: {speaker: [[number, wav, rows.npy]]}}}")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with open(args.job, encoding="utf-8") as handle:
        job = json.load(handle)
    out = {}
    if "asv" in job:
        out["asv"] = verify(job["asv"], args.seed)
    if "probe" in job:
        from .content.train import probe_accuracy
        utterances = {speaker: [(number, read_audio(wav), np.load(rows)) for number, wav, rows in items]
                      for speaker, items in job["probe"]["utterances"].items()}
        out["probe"] = {f"{a}-{b}": probe_accuracy(utterances, (a, b), args.seed) for a, b in job["probe"]["pairs"]}
    return out


if __name__ == "__main__":
    raise SystemExit(run_main(main))
