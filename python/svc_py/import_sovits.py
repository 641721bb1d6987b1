"""`python -m svc_py.import_sovits (--checkpoint G.pth | --onnx MODEL.onnx) --config config.json --out DIR
[--name N] [--encoder enc.onnx|enc.pt] [--encoder-probe-dir DIR] [--force]`: writes an svc bundle (bundle.py).

- --checkpoint: an upstream so-vits-svc 4.0/4.1 (or so-vits-svc-fork hifi-gan) generator checkpoint,
  validated against its config, loaded into svc's model and exported. Release checkpoints
  (compress_model.py: no enc_q, maybe float16) are accepted; what was absent is reported.
- --onnx: an upstream onnx_export.py export (as MoeVoiceStudio uses them), wrapped as it is: its
  signature is checked against the config (single-speaker `sid` int64 [1], or the speaker-mix graph
  `sid` float32 [T, n_speakers] that upstream writes for two or more speakers).
- --encoder is checked (an .onnx: its convention and width) or converted (a fairseq/soft-VC .pt, as
  `svc import-encoder`) BEFORE the generator export, so a wrong encoder fails in seconds."""
import argparse
import json
import os
import shutil

from .events import SvcPyError, progress, run_main


def prepare_encoder(path, out_dir, config, probe_dir):
    """Checks or converts --encoder into out_dir/encoder.onnx; returns the manifest's encoder entry."""
    from .bundle import copy_user_encoder, describe_user_encoder
    expected_dim = int(config["model"]["ssl_dim"])
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"encoder not found: {path}", f"pass the {config['speech_encoder']} encoder (.onnx, or the .pt checkpoint to convert)")
    with open(path, "rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"  # torch.save's zip container; ONNX files are protobuf
    if not is_zip:
        describe_user_encoder(path)  # fails now, before the export, when it is not an encoder ONNX
        return lambda: copy_user_encoder(path, out_dir, expected_dim, config["speech_encoder"])
    from .import_encoder import convert_encoder
    target = os.path.join(out_dir, "encoder.onnx")
    info = convert_encoder(path, config["speech_encoder"], target, expected_dim=expected_dim, probe_dir=probe_dir)
    entry = {"file": "encoder.onnx", **{k: v for k, v in info.items() if k not in ("parameters", "export_seconds", "probe", "speech_encoder")}}
    return lambda: (entry, info.get("probe"))


def check_upstream_onnx(path, config):
    """-> (generator_info, speaker_mix or None): the graph's inputs must be upstream's for this config."""
    from .bundle import onnx_io
    inputs, outputs, opsets = onnx_io(path)
    model = config["model"]
    names = [i["name"] for i in inputs]
    expected = ["c", "f0", "mel2ph", "uv", "noise", "sid"] + (["vol"] if model.get("vol_embedding") else [])
    if names != expected:
        hint = "the config has vol_embedding=true but the graph takes no vol" if "vol" in expected and "vol" not in names else \
            "the graph takes vol but the config has no vol_embedding" if "vol" in names and "vol" not in expected else \
            "pass an export from so-vits-svc's onnx_export.py (inputs c, f0, mel2ph, uv, noise, sid[, vol])"
        raise SvcPyError("MODEL_INVALID", f"{path} takes inputs [{', '.join(names)}]; a so-vits-svc export for this config takes [{', '.join(expected)}]", hint)
    by_name = {i["name"]: i for i in inputs}
    width = by_name["c"]["shape"][-1]
    if isinstance(width, int) and width != int(model["ssl_dim"]):
        raise SvcPyError("MODEL_INVALID", f"{path} takes {width}-d content (c) but the config's ssl_dim is {model['ssl_dim']}",
                         "pass the config.json the model was exported from")
    channels = by_name["noise"]["shape"][1] if len(by_name["noise"]["shape"]) == 3 else None
    if isinstance(channels, int) and channels != int(model["inter_channels"]):
        raise SvcPyError("MODEL_INVALID", f"{path} takes noise with {channels} channels but the config's inter_channels is {model['inter_channels']}")
    sid = by_name["sid"]
    speakers = sorted(config["spk"], key=lambda name: config["spk"][name])
    speaker_mix = None
    if sid["dtype"] == "float32":
        count = sid["shape"][-1] if len(sid["shape"]) == 2 else None
        if count != len(config["spk"]):
            raise SvcPyError("MODEL_INVALID", f"{path} is a speaker-mix graph with sid {sid['shape']} but the config names {len(config['spk'])} speakers",
                             "pass the config.json the model was exported from (its spk table sets the mix columns)")
        # Column i of sid is the i-th speaker of the config's spk table in file order (export_chara_mix).
        speaker_mix = {"graph": "per-frame", "columns": list(config["spk"])}
    elif sid["dtype"] != "int64":
        raise SvcPyError("MODEL_INVALID", f"{path} takes sid as {sid['dtype']} {sid['shape']}; expected int64 [1] or the mix graph's float32 [T, speakers]")
    for name in ("f0", "uv", "noise", "c") + (("vol",) if "vol" in by_name else ()):
        if by_name[name]["dtype"] != "float32":
            raise SvcPyError("MODEL_INVALID", f"{path}: input {name} is {by_name[name]['dtype']}, expected float32")
    if by_name["mel2ph"]["dtype"] != "int64":
        raise SvcPyError("MODEL_INVALID", f"{path}: input mel2ph is {by_name['mel2ph']['dtype']}, expected int64")
    dynamic = {i["name"]: [axis for axis, dim in enumerate(i["shape"]) if not isinstance(dim, int)] for i in inputs}
    info = {"opset": opsets[0] if opsets else None, "inputs": inputs, "outputs": outputs, "dynamic_axes": dynamic, "seconds": 0.0}
    return info, speaker_mix, speakers


def onnx_parameter_count(path):
    import onnx
    model = onnx.load(path, load_external_data=False)
    total = 0
    for initializer in model.graph.initializer:
        count = 1
        for dim in initializer.dims:
            count *= dim
        total += count
    return total


def main():
    parser = argparse.ArgumentParser(prog="svc_py.import_sovits")
    parser.add_argument("--checkpoint")
    parser.add_argument("--onnx")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--encoder")
    parser.add_argument("--encoder-probe-dir")
    parser.add_argument("--speaker-mix", action="store_true", help="the default with two or more speakers (kept for old scripts)")
    parser.add_argument("--single-speaker-graph", action="store_true", help="export the sid int64 [1] graph even with two or more speakers")
    parser.add_argument("--cluster")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    if bool(args.checkpoint) == bool(args.onnx):
        raise SvcPyError("INVALID_ARGUMENT", "pass exactly one of --checkpoint G_<step>.pth and --onnx MODEL.onnx")

    from .bundle import bundle_output, write_bundle
    from .sovits.config import read_config

    config = read_config(args.config)
    with open(args.config, "r", encoding="utf-8") as handle:
        original = json.load(handle)
    notes = list(config.get("notes", []))
    for note in notes:
        progress(note)
    progress(f"config: so-vits-svc {config['version']}, {config['data']['sampling_rate']} Hz, hop {config['data']['hop_length']}, {config['speech_encoder']}")
    name = args.name or os.path.basename(os.path.normpath(args.out))
    speakers = config["spk"]

    if args.onnx:
        if not os.path.isfile(args.onnx):
            raise SvcPyError("FILE_NOT_FOUND", f"ONNX model not found: {args.onnx}", "pass the .onnx written by so-vits-svc's onnx_export.py")
        info, speaker_mix, _ = check_upstream_onnx(args.onnx, config)
        progress(f"upstream ONNX export: {'speaker-mix graph (sid float32 [T, ' + str(len(speakers)) + '])' if speaker_mix else 'single-speaker graph (sid int64 [1])'}")
        with bundle_output(args.out, args.force):
            finish_encoder = prepare_encoder(args.encoder, args.out, config, args.encoder_probe_dir) if args.encoder else None
            cluster = prepare_cluster(args.cluster, args.out, config) if args.cluster else None
            shutil.copyfile(args.onnx, os.path.join(args.out, "generator.onnx"))
            encoder, probe = _finish(finish_encoder)
            manifest = write_bundle(args.out, config, original, info, speakers, name,
                                    {"type": "import-onnx", "onnx": os.path.abspath(args.onnx), "notes": notes},
                                    {"generator_inference": onnx_parameter_count(args.onnx)}, encoder, speaker_mix=speaker_mix, cluster=cluster)
        return {"out": os.path.abspath(args.out), "manifest": manifest, "export_seconds": 0.0, "notes": notes, "encoder_probe": probe}

    from .quantize import write_int8
    from .sovits.checkpoint import check_state_dict, load_checkpoint_file
    from .sovits.export import export_generator
    from .sovits.models import build_generator, count_parameters, inference_parameters

    loaded = {}
    state, iteration = load_checkpoint_file(args.checkpoint, loaded)
    if "float16" in loaded["dtypes"] or "bfloat16" in loaded["dtypes"]:
        notes.append(f"{'/'.join(loaded['dtypes'])} weights (a half-precision release) converted to float32")
    net = build_generator(config)
    expected = net.state_dict()
    absent = check_state_dict(state, expected, config, allow_absent_unused=True)
    if absent:
        modules = sorted({key.split(".")[0] for key in absent})
        notes.append(f"absent from the checkpoint: {', '.join(m + '.*' for m in modules)} ({len(absent)} tensors: "
                     f"{'the posterior encoder, used only in training' if 'enc_q' in modules else ''}"
                     f"{'; ' if len(modules) > 1 else ''}{'the f0 predictor, used only with auto-f0' if 'f0_decoder' in modules else ''}) - not needed for conversion")
        state = {**{k: expected[k] for k in absent}, **state}
    net.load_state_dict(state, strict=True)
    net.eval()
    for note in notes[len(config.get("notes", [])):]:
        progress(note)
    progress(f"checkpoint loaded (step {iteration}), {count_parameters(net)} parameters")
    with bundle_output(args.out, args.force):
        finish_encoder = prepare_encoder(args.encoder, args.out, config, args.encoder_probe_dir) if args.encoder else None
        cluster = prepare_cluster(args.cluster, args.out, config) if args.cluster else None
        if args.speaker_mix and len(speakers) < 2:
            raise SvcPyError("INVALID_ARGUMENT", f"--speaker-mix needs two or more speakers in the config's spk table, it names {len(speakers)}")
        mix_ids = mix_speaker_ids(speakers, args.single_speaker_graph)
        info = export_generator(net, os.path.join(args.out, "generator.onnx"), mix_speaker_ids=mix_ids)
        progress(f"generator.onnx{' (speaker-mix graph, sid float32 [T, ' + str(len(mix_ids)) + '])' if mix_ids else ''} written in {info['seconds']:.1f} s")
        encoder, probe = _finish(finish_encoder)
        manifest = write_bundle(args.out, config, original, info, speakers, name,
                                {"type": "import", "checkpoint": os.path.abspath(args.checkpoint), "iteration": iteration,
                                 "absent": sorted({key.split(".")[0] for key in absent}), "notes": notes},
                                {"generator": count_parameters(net), "generator_inference": inference_parameters(net)}, encoder,
                                speaker_mix={"graph": "per-frame", "columns": list(speakers)} if mix_ids else None, cluster=cluster,
                                # The mix graph has the same conv nodes (names included) as the single-sid one: the
                                # calibration of the single-sid wrapper (a one-hot mix) quantizes it too.
                                int8=write_int8(args.out, net, info, encoder and encoder["file"]))
    return {"out": os.path.abspath(args.out), "manifest": manifest, "export_seconds": info["seconds"], "notes": notes, "encoder_probe": probe}


def mix_speaker_ids(speakers, single_graph=False):
    """Speaker ids of the mix graph's columns (the spk table's order), or None for the single-sid graph.
    svc exports the speaker-mix graph whenever the spk table names two or more speakers, as upstream's
    onnx_export.py does: with the embeddings still at hand, blending them (spk_mix) costs one [T, S] x [S, gin]
    matmul, and one-hot weights give the single-sid output (measured 1.5e-6 of peak)."""
    if single_graph or len(speakers) < 2:
        return None
    return [speakers[name] for name in speakers]


def prepare_cluster(path, out_dir, config):
    """kmeans_10000.pt -> cluster.onnx, feature_and_index.pkl -> feature_index_<n>.index (feature_index.py)."""
    from .feature_index import prepare_cluster_file
    return prepare_cluster_file(path, out_dir, config)


def _finish(finish_encoder):
    """(encoder manifest entry or None, probe for the caller's ONNX check or None)."""
    if finish_encoder is None:
        return None, None
    result = finish_encoder()
    return result if isinstance(result, tuple) else (result, None)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
