"""`python -m svc_py.import_sovits --checkpoint G.pth --config config.json --out DIR [--name N]
[--encoder enc.onnx] [--force]`: validates an upstream so-vits-svc 4.0/4.1 generator checkpoint
against its config, loads it strictly into svc's model and writes a bundle (see bundle.py)."""
import argparse
import json
import os

from .events import SvcPyError, progress, run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.import_sovits")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--encoder")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()

    from .bundle import bundle_output, copy_user_encoder, write_bundle
    from .sovits.checkpoint import check_state_dict, load_checkpoint_file
    from .sovits.config import read_config
    from .sovits.export import export_generator
    from .sovits.models import build_generator, count_parameters, inference_parameters

    config = read_config(args.config)
    with open(args.config, "r", encoding="utf-8") as handle:
        original = json.load(handle)
    progress(f"config: so-vits-svc {config['version']}, {config['data']['sampling_rate']} Hz, hop {config['data']['hop_length']}, {config['speech_encoder']}")
    state, iteration = load_checkpoint_file(args.checkpoint)
    net = build_generator(config)
    check_state_dict(state, net.state_dict(), config)
    net.load_state_dict(state, strict=True)
    net.eval()
    progress(f"checkpoint loaded (step {iteration}), {count_parameters(net)} parameters")
    with bundle_output(args.out, args.force):
        info = export_generator(net, os.path.join(args.out, "generator.onnx"))
        progress(f"generator.onnx written in {info['seconds']:.1f} s")
        encoder = None
        if args.encoder:
            encoder = copy_user_encoder(args.encoder, args.out, int(config["model"]["ssl_dim"]), config["speech_encoder"])
        name = args.name or os.path.basename(os.path.normpath(args.out))
        manifest = write_bundle(args.out, config, original, info, config["spk"], name,
                                {"type": "import", "checkpoint": os.path.abspath(args.checkpoint), "iteration": iteration},
                                {"generator": count_parameters(net), "generator_inference": inference_parameters(net)}, encoder)
    return {"out": os.path.abspath(args.out), "manifest": manifest, "export_seconds": info["seconds"]}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
