"""`python -m svc_py.import_encoder --checkpoint X.pt --name vec768l12|vec256l9|hubertsoft|... --out FILE.onnx
[--probe-dir DIR] [--force]`: converts a fairseq HuBERT/ContentVec or soft-VC HuBERT-Soft checkpoint
(read as data, see encoder_checkpoints.py) into svc's encoder ONNX convention: `source` f32 [1, 1, N]
(16 kHz) -> `embed` f32 [1, T, D], T = floor((N - 400) / 320) + 1.

With --probe-dir it also writes a probe for the caller's numerical check: probe_input.f32 (1.5 s of
a voiced-like test signal, little-endian float32) and probe_expected.f32 (the PyTorch model's
output on it, [T, D] row-major); src/cli/commands/import-encoder.ts runs the ONNX graph through
onnxruntime-node on the same input and compares."""
import argparse
import os

from .events import SvcPyError, progress, run_main

PROBE_SECONDS = 1.5


def probe_signal(samples, seed=5):
    """A 120-240 Hz glide with five harmonics plus noise: voice-like energy in every band HuBERT uses."""
    import torch
    t = torch.arange(samples, dtype=torch.float64) / 16000
    f0 = 120 + 120 * t / t[-1]
    phase = 2 * torch.pi * torch.cumsum(f0, 0) / 16000
    voiced = sum(0.25 / k * torch.sin(k * phase) for k in range(1, 6))
    noise = 0.02 * torch.randn(samples, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return (voiced + noise).float()


def convert_encoder(checkpoint, speech_encoder, out_path, expected_dim=None, probe_dir=None):
    """Builds, checks the width, exports; returns the bundle's encoder description (manifest.encoder
    minus `file`) plus export facts. Fails before any export when the width does not fit."""
    import torch
    from .encoder_checkpoints import build_content_encoder
    from .encoders import ENCODER_HOP_SAMPLES, ENCODER_SAMPLE_RATE, ENCODER_WINDOW_SAMPLES, count_parameters, export_encoder
    if not os.path.isfile(checkpoint):
        raise SvcPyError("FILE_NOT_FOUND", f"encoder checkpoint not found: {checkpoint}",
                         "pass ContentVec's checkpoint_best_legacy_500.pt, fairseq's hubert_base.pt or soft-VC's hubert-soft-0d54a1f4.pt")
    encoder, info = build_content_encoder(checkpoint, speech_encoder)
    if expected_dim is not None and info["dim"] != expected_dim:
        raise SvcPyError("MODEL_INVALID", f"encoder {os.path.basename(checkpoint)} as {info['speech_encoder']} gives {info['dim']}-d features but the model takes {expected_dim}-d",
                         "pass the encoder checkpoint the model was trained with (config speech_encoder)")
    progress(f"{info['format']} checkpoint read as data: {info['settings']['encoder_num_layers']} layers, width {info['settings']['encoder_embed_dim']}; "
             f"{info['speech_encoder']} = layer {info['layer']}{' + ' + info['projection'] if info['projection'] else ''}, {info['dim']}-d")
    seconds = export_encoder(encoder, out_path)
    progress(f"encoder ONNX exported in {seconds:.1f} s")
    result = {
        "convention": "source-embed", "input": "source", "output": "embed",
        "sample_rate": ENCODER_SAMPLE_RATE, "hop_samples": ENCODER_HOP_SAMPLES, "window_samples": ENCODER_WINDOW_SAMPLES,
        "dim": info["dim"], "kind": f"{info['format']}-hubert", "layer": info["layer"], "projection": info["projection"],
        "speech_encoder": info["speech_encoder"],
        "description": f"{info['speech_encoder']} from {os.path.basename(checkpoint)} ({info['format']}: transformer layer {info['layer']}"
                       f"{', ' + info['projection'] if info['projection'] else ', no projection'})",
        "parameters": count_parameters(encoder), "export_seconds": seconds,
    }
    if probe_dir:
        os.makedirs(probe_dir, exist_ok=True)
        audio = probe_signal(int(PROBE_SECONDS * ENCODER_SAMPLE_RATE))
        with torch.no_grad():
            expected = encoder(audio.view(1, 1, -1))[0]
        audio.numpy().astype("<f4").tofile(os.path.join(probe_dir, "probe_input.f32"))
        expected.numpy().astype("<f4").tofile(os.path.join(probe_dir, "probe_expected.f32"))
        result["probe"] = {"dir": os.path.abspath(probe_dir), "samples": int(audio.numel()), "frames": int(expected.shape[0]), "dim": int(expected.shape[1])}
    return result


def main():
    parser = argparse.ArgumentParser(prog="svc_py.import_encoder")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--probe-dir")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    if os.path.exists(args.out) and not args.force:
        raise SvcPyError("INVALID_ARGUMENT", f"--out {args.out} exists", "choose another file or pass --force to overwrite")
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        raise SvcPyError("INVALID_ARGUMENT", f"--out folder {folder} does not exist", "create it first")
    temporary = args.out + ".partial"
    try:
        result = convert_encoder(args.checkpoint, args.name, temporary, probe_dir=args.probe_dir)
        os.replace(temporary, args.out)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return {"out": os.path.abspath(args.out), **result}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
