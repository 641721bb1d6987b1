"""`python -m svc_py.export_run --run RUN --out DIR [--step N] [--name NAME] [--force]`: a training run
(the run folder of python/svc_py/train: config.json, run.json, G_<step>.pth) -> an svc model bundle
(generator.onnx, config.json, speakers.json, manifest.json and the dataset's encoder.onnx) that
`svc convert --model` and the server load. Uses the So-VITS helpers' export and bundle writers.

`python -m svc_py.export_run --write-tiny-encoder PATH`: writes the tiny random conv content
encoder (256-d, HuBERT framing; seed 1234, the same weights `svc make-reference --size tiny` ships)
for `svc preprocess --encoder tiny`; `--dim 768` gives a random 768-d one (benchmarks of the standard
config only: random content features cannot make a usable model)."""
import argparse
import json
import os

from .events import SvcPyError, progress, run_main

def write_tiny_encoder(path, dim=256):
    from .encoders import TinyConvEncoder, export_encoder
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.onnx"
    seconds = export_encoder(TinyConvEncoder(dim=dim, seed=1234), tmp)
    os.replace(tmp, path)
    return {"encoder": os.path.abspath(path), "seconds": seconds}


def pick_checkpoint(run_dir, step):
    from .train.checkpoints import checkpoint_steps
    steps = checkpoint_steps(run_dir)
    if not steps:
        raise SvcPyError("FILE_NOT_FOUND", f"{run_dir} holds no generator checkpoint G_<step>.pth",
                         "train first (svc train DATASET --out RUN); a checkpoint is written every --checkpoint-every steps")
    if step is None:
        return steps[-1]
    if step not in steps:
        raise SvcPyError("FILE_NOT_FOUND", f"{run_dir} has no G_{step}.pth (steps present: {', '.join(map(str, steps))})", "pick one of those steps or leave --step out for the newest")
    return step


def speaker_typical_f0(dataset_dir, speakers):
    """{speaker: median f0 (Hz) over the voiced frames of the speaker's dataset clips}: the typical f0 that
    auto-pitch (`svc convert --auto-pitch`, `svc say --voice`) moves an input onto. Speakers without voiced
    frames (or a dataset without f0 files) are left out."""
    import numpy as np
    try:
        with open(os.path.join(dataset_dir, "manifest.json"), encoding="utf-8") as handle:
            clips = json.load(handle).get("clips", [])
    except (OSError, ValueError):
        return {}
    voiced = {}
    for clip in clips:
        base = os.path.join(dataset_dir, "clips", clip["id"])
        if clip.get("speaker") not in speakers or not os.path.isfile(base + ".f0.npy") or not os.path.isfile(base + ".uv.npy"):
            continue
        f0, uv = np.load(base + ".f0.npy"), np.load(base + ".uv.npy")
        voiced.setdefault(clip["speaker"], []).append(f0[(uv > 0.5) & (f0 > 0)])
    table = {}
    for speaker, parts in voiced.items():
        values = np.concatenate(parts)
        if len(values):
            table[speaker] = round(float(np.median(values)), 1)
    return table


def main():
    parser = argparse.ArgumentParser(prog="svc_py.export_run")
    parser.add_argument("--run")
    parser.add_argument("--out")
    parser.add_argument("--step", type=int, default=None)
    parser.add_argument("--name")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--write-tiny-encoder")
    parser.add_argument("--dim", type=int, default=256, help="row width of the tiny encoder (256; 768 for standard-config benchmarks)")
    args = parser.parse_args()
    if args.write_tiny_encoder:
        return write_tiny_encoder(args.write_tiny_encoder, args.dim)
    if not args.run or not args.out:
        raise SvcPyError("INVALID_ARGUMENT", "export needs --run RUN and --out DIR")


    from .bundle import bundle_output, copy_user_encoder, write_bundle
    from .sovits.checkpoint import check_state_dict, load_checkpoint_file
    from .sovits.config import read_config
    from .quantize import write_int8
    from .sovits.export import export_generator
    from .sovits.models import build_generator, count_parameters, inference_parameters

    config_path = os.path.join(args.run, "config.json")
    run_info_path = os.path.join(args.run, "run.json")
    if not os.path.isfile(config_path) or not os.path.isfile(run_info_path):
        raise SvcPyError("FILE_NOT_FOUND", f"{args.run} is not an svc training run (no config.json/run.json)",
                         "pass the --out folder of svc train")
    config = read_config(config_path)
    with open(config_path, encoding="utf-8") as handle:
        original = json.load(handle)
    with open(run_info_path, encoding="utf-8") as handle:
        run_info = json.load(handle)
    step = pick_checkpoint(args.run, args.step)
    checkpoint = os.path.join(args.run, f"G_{step}.pth")
    state, iteration = load_checkpoint_file(checkpoint)
    net = build_generator(config)
    check_state_dict(state, net.state_dict(), config)
    net.load_state_dict(state, strict=True)
    net.eval()
    progress(f"checkpoint G_{step}.pth loaded ({count_parameters(net)} parameters)")

    encoder_src = os.path.join(run_info["dataset"], "encoder.onnx")
    if not os.path.isfile(encoder_src):
        raise SvcPyError("FILE_NOT_FOUND", f"the run's dataset encoder {encoder_src} is missing (dataset moved or deleted?)",
                         "the bundle needs the content encoder the dataset was made with; restore the dataset folder")
    expected_sha = (run_info.get("encoder") or {}).get("sha256")
    if expected_sha:
        import hashlib
        with open(encoder_src, "rb") as handle:
            actual_sha = hashlib.sha256(handle.read()).hexdigest()
        if actual_sha != expected_sha:
            raise SvcPyError("MODEL_INVALID", f"{encoder_src} is not the encoder the run was trained with (sha256 {actual_sha[:12]}, expected {expected_sha[:12]}): the dataset was preprocessed again with another encoder",
                             "export needs the original encoder: restore it, or retrain on the new dataset")
    with bundle_output(args.out, args.force):
        from .import_sovits import mix_speaker_ids
        mix_ids = mix_speaker_ids(config["spk"])  # two or more speakers: the speaker-mix graph (spk_mix)
        info = export_generator(net, os.path.join(args.out, "generator.onnx"), mix_speaker_ids=mix_ids)
        progress(f"generator.onnx{' (speaker-mix graph)' if mix_ids else ''} written in {info['seconds']:.1f} s")
        dataset_encoder = run_info.get("encoder") or {}
        encoder = {**copy_user_encoder(encoder_src, args.out, int(config["model"]["ssl_dim"]), config["speech_encoder"]),
                   "kind": dataset_encoder.get("name", "dataset"),
                   "description": f"the content encoder the training dataset was made with ({dataset_encoder.get('name', 'encoder.onnx')})"}
        name = args.name or os.path.basename(os.path.normpath(args.out))
        manifest = write_bundle(args.out, config, original, info, config["spk"], name,
                                {"type": "trained", "run": os.path.abspath(args.run), "step": iteration, "dataset": run_info["dataset"],
                                 "f0_method": run_info.get("f0_method")},
                                {"generator": count_parameters(net), "generator_inference": inference_parameters(net)}, encoder,
                                speaker_mix={"graph": "per-frame", "columns": list(config["spk"])} if mix_ids else None,
                                int8=write_int8(args.out, net, info, encoder["file"]),
                                speaker_f0_hz=speaker_typical_f0(run_info["dataset"], config["spk"]) or None)
    return {"out": os.path.abspath(args.out), "step": iteration, "manifest": manifest, "export_seconds": info["seconds"]}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
