"""`python -m svc_py.parity --config C --checkpoint G.pth --out DIR [--frames N]`: for parity tests
of an ONNX runtime against PyTorch. Loads the checkpoint, exports the generator with the NSF
source made deterministic (no random phases or noise; everything else identical to the bundle's
graph) to DIR/generator_deterministic.onnx, and writes the example inputs (DIR/<input>.npy) and
PyTorch's output (DIR/expected_audio.npy). --speaker-mix exports the speaker-mix graph (sid float32 [T, S],
the spk table's speakers) and stops there: its reference comes from upstream's own spk_mix
(test/fixtures/sovits_mix). --hashed-source exports the graph bundles ship instead (DIR/generator_hashed.onnx:
the NSF source's noise hashed from each frame's latent noise, fixed overtone phases) and PyTorch's
output with that same source, so the int64 hash is checked too."""
import argparse
import os

import numpy as np

from .events import run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.parity")
    parser.add_argument("--config", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--speaker-mix", action="store_true")
    parser.add_argument("--hashed-source", action="store_true")
    args = parser.parse_args()

    from .sovits.checkpoint import check_state_dict, load_checkpoint_file
    from .sovits.config import read_config
    from .sovits.export import example_inputs, export_generator, run_torch
    from .sovits.models import build_generator

    config = read_config(args.config)
    net = build_generator(config).eval()
    state, _ = load_checkpoint_file(args.checkpoint)
    check_state_dict(state, net.state_dict(), config)
    net.load_state_dict(state, strict=True)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "generator_deterministic.onnx")
    if args.speaker_mix:
        ids = [config["spk"][name] for name in config["spk"]]
        info = export_generator(net, path, deterministic_source=True, mix_speaker_ids=ids)
        return {"onnx": path, "columns": list(config["spk"]), "export_seconds": info["seconds"]}
    deterministic = not args.hashed_source
    if not deterministic:
        path = os.path.join(args.out, "generator_hashed.onnx")
    info = export_generator(net, path, deterministic_source=deterministic)
    inputs = example_inputs(net, frames=args.frames, seed=7)
    audio = run_torch(net, inputs, deterministic_source=deterministic)
    for name, tensor in inputs.items():
        np.save(os.path.join(args.out, f"{name}.npy"), tensor.numpy())
    np.save(os.path.join(args.out, "expected_audio.npy"), audio.numpy().astype(np.float32))
    return {"onnx": path, "inputs": sorted(inputs), "expected_shape": list(audio.shape), "export_seconds": info["seconds"]}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
