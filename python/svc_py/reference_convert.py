"""`python -m svc_py.reference_convert --bundle DIR --inputs DIR --out DIR [--mapping time|upstream]`
and `... --bundle DIR --export-deterministic OUT.onnx`: the PyTorch reference for the engine's
parity tests (owned by the neural-runtime area; it only calls the So-VITS package's builders).

Reference conversion: given what the TypeScript engine measured from the input (16 kHz audio,
f0 per frame after interpolation and pitch shift, uv, vol, noise, speaker id; .npy files in
--inputs), this recomputes the content features with the PyTorch encoder (rebuilt from the
reference bundle's kind and seed), maps content rows onto frames itself (mel2ph), and runs the
PyTorch generator (G_0.pth in the bundle, written by `svc make-reference --checkpoint`) with the
NSF source made deterministic. Writes expected_audio.npy, content.npy and mel2ph.npy to --out.

--export-deterministic writes the same generator as ONNX with the deterministic source, so the
engine can run exactly the graph the reference runs."""
import argparse
import json
import os

import numpy as np

from .events import SvcPyError, run_main


def load_bundle_generator(bundle):
    from .sovits.checkpoint import check_state_dict, load_checkpoint_file
    from .sovits.config import read_config
    from .sovits.models import build_generator

    checkpoint = os.path.join(bundle, "G_0.pth")
    if not os.path.isfile(checkpoint):
        raise SvcPyError("MODEL_INVALID", f"{bundle} has no G_0.pth (torch weights)", "build the bundle with `svc make-reference --checkpoint`")
    config = read_config(os.path.join(bundle, "config.json"))
    net = build_generator(config).eval()
    state, _ = load_checkpoint_file(checkpoint)
    check_state_dict(state, net.state_dict(), config)
    net.load_state_dict(state, strict=True)
    return net


def rebuild_encoder(manifest):
    """The reference bundle's encoder, rebuilt from its kind and seed (make_reference seeds it)."""
    from .encoders import HubertLayerOutput, TinyConvEncoder

    encoder = manifest.get("encoder") or {}
    source = manifest.get("source") or {}
    seed = source.get("seed")
    if source.get("type") != "reference" or seed is None:
        raise SvcPyError("MODEL_INVALID", "only reference bundles (svc make-reference) can rebuild their encoder in PyTorch")
    if encoder.get("kind") == "tiny_conv":
        return TinyConvEncoder(dim=int(encoder["dim"]), seed=int(seed)).eval()
    if encoder.get("kind") == "hubert_base":
        return HubertLayerOutput(layer=int(encoder.get("layer") or 12), seed=int(seed)).eval()
    raise SvcPyError("MODEL_INVALID", f"unknown reference encoder kind {encoder.get('kind')!r}")


def mel2ph_for(frames, rows, mapping, hop, sr):
    """1-based content row per frame. time: floor(k*hop/sr / 20 ms); upstream: floor(k*rows/frames)."""
    k = np.arange(frames, dtype=np.int64)
    if mapping == "upstream":
        row = (k * rows) // frames
    else:
        row = np.floor(k * hop * 50.0 / sr + 1e-9).astype(np.int64)
    return np.clip(row, 0, rows - 1) + 1


def main():
    parser = argparse.ArgumentParser(prog="svc_py.reference_convert")
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--inputs")
    parser.add_argument("--out")
    parser.add_argument("--mapping", choices=["time", "upstream"], default="time")
    parser.add_argument("--export-deterministic")
    args = parser.parse_args()

    import torch

    from .sovits.export import export_generator, run_torch

    net = load_bundle_generator(args.bundle)
    if args.export_deterministic:
        info = export_generator(net, args.export_deterministic, deterministic_source=True)
        return {"onnx": os.path.abspath(args.export_deterministic), "seconds": info["seconds"]}
    if not args.inputs or not args.out:
        raise SvcPyError("INVALID_ARGUMENT", "--inputs and --out are required (or --export-deterministic)")
    with open(os.path.join(args.bundle, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    load = lambda name: np.load(os.path.join(args.inputs, f"{name}.npy"))
    audio16k = load("audio16k").astype(np.float32)
    f0 = load("f0").astype(np.float32)
    uv = load("uv").astype(np.float32)
    noise = load("noise").astype(np.float32)
    sid = int(load("sid").reshape(-1)[0])
    frames = f0.shape[-1]

    encoder = rebuild_encoder(manifest)
    with torch.no_grad():
        padded = audio16k if audio16k.shape[0] >= 400 else np.pad(audio16k, (0, 400 - audio16k.shape[0]))
        content = encoder(torch.from_numpy(padded).view(1, 1, -1))  # [1, rows, dim]
    rows = content.shape[1]
    mel2ph = mel2ph_for(frames, rows, args.mapping, manifest["hop_length"], manifest["sampling_rate"])
    inputs = {
        "c": content,
        "f0": torch.from_numpy(f0).view(1, -1),
        "mel2ph": torch.from_numpy(mel2ph).view(1, -1),
        "uv": torch.from_numpy(uv).view(1, -1),
        "noise": torch.from_numpy(noise).view(1, manifest["inter_channels"], frames),
        "sid": torch.LongTensor([sid]),
    }
    if manifest.get("vol_embedding"):
        inputs["vol"] = torch.from_numpy(load("vol").astype(np.float32)).view(1, -1)
    audio = run_torch(net, inputs, deterministic_source=True)
    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "expected_audio.npy"), np.ascontiguousarray(audio.numpy().reshape(-1), dtype=np.float32))
    np.save(os.path.join(args.out, "content.npy"), np.ascontiguousarray(content.numpy().reshape(rows, -1), dtype=np.float32))
    np.save(os.path.join(args.out, "mel2ph.npy"), mel2ph.astype(np.int64))
    return {"samples": int(audio.numel()), "rows": int(rows), "frames": int(frames)}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
