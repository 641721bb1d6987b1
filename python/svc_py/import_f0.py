"""`python -m svc_py.import_f0 --model FILE.pt (--out FILE.onnx | --out-dir DIR) [--kind rmvpe|fcpe]`: reads a pitch
tracker checkpoint as data (RVC's rmvpe.pt, torchfcpe's fcpe.pt), loads it strictly into svc's
rebuild of the network (svc_py.pitch) and exports a graph that takes 16 kHz audio:

  audio f32 [1, N] -> activation f32 [1, T, bins]   (T = N // 160 + 1, 360 bins; rmvpe: frame t centred
                                                     at sample 160 t, fcpe: at 160 t + 80)

A FILE.json beside the graph records the kind, the network's shape and where it came from."""
import argparse
import json
import os
import time

import torch

from .events import SvcPyError, progress, run_main

OPSET = 17
KINDS = ("rmvpe", "fcpe")


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def load_checkpoint(path):
    from . import safe_pickle
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"pitch model not found: {path}", "pass rmvpe.pt (RVC's assets/rmvpe/) or fcpe.pt (torchfcpe)")
    if os.path.getsize(path) == 0:
        raise SvcPyError("FILE_EMPTY", f"pitch model {path} is empty (0 bytes)", "copy the file again")
    try:
        return safe_pickle.load_torch_file(path)
    except Exception as error:
        first = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        _fail(f"{os.path.basename(path)} is not a PyTorch file that can be read as data ({first})", "pass rmvpe.pt or fcpe.pt as their projects publish them")


def detect_kind(data):
    if isinstance(data, dict) and any(str(k).startswith("unet.encoder.") for k in data):
        return "rmvpe"
    # torchfcpe (`config_dict`) and DDSP-SVC / so-vits-svc (`config`) FCPE: weights with a cents table
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and ("config_dict" in data or "config" in data) and "cent_table" in data["model"]:
        return "fcpe"
    return None


def check_state(state, expected, kind):
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    differ = [f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})" for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or differ:
        parts = [f"{label} ({len(items)}): {', '.join(items[:5])}" for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", differ)) if items]
        _fail(f"the checkpoint does not match the {kind} network: " + "; ".join(parts), f"pass the {kind}.pt its project publishes, unmodified")


def build_rmvpe(data):
    from .pitch.rmvpe import Rmvpe, RmvpeOnnx, config_from_state
    state = {k: v.float() for k, v in data.items() if torch.is_tensor(v)}
    config = config_from_state(state)
    if not (config["n_blocks"] and config["levels"] and config["width"]):
        _fail("the checkpoint has no RMVPE U-Net weights (unet.encoder.layers.*)", "pass RVC's rmvpe.pt")
    net = Rmvpe(**config)
    check_state(state, net.state_dict(), "rmvpe")
    net.load_state_dict(state, strict=True)
    graph = RmvpeOnnx(net).eval()
    example = torch.sin(torch.arange(16000) * (2 * 3.141592653589793 * 220 / 16000)).unsqueeze(0) * 0.3
    info = {"hop_samples": 160, "bins": 360, "frame_multiple": 32, "threshold": 0.03, "config": config,
            "first_frame_centre": 0, "cents_of_bin_0": 1997.3794084376191, "cents_per_bin": 20}
    return graph, example, info


def _fcpe_config(data):
    from .pitch.fcpe import config_from_checkpoint
    try:
        return config_from_checkpoint(data)
    except (ValueError, TypeError, KeyError) as error:
        _fail(f"the FCPE checkpoint's configuration is not one svc can rebuild: {error}", "pass fcpe.pt as torchfcpe or DDSP-SVC publish it, unmodified")


def build_fcpe(data):
    from .pitch.fcpe import Fcpe, FcpeOnnx, canonical_state
    config = _fcpe_config(data)
    state = {k: v.float() for k, v in canonical_state(data["model"], config["layout"]).items() if torch.is_tensor(v)}
    net = Fcpe(config["layout"], n_mels=config["mel"]["n_mels"], **config["model"])
    check_state(state, net.state_dict(), "fcpe")
    net.load_state_dict(state, strict=True)
    graph = FcpeOnnx(net.eval(), config["mel"]).eval()
    table = state["cent_table"].double()
    bins = int(table.shape[0])
    step = float(table[-1] - table[0]) / (bins - 1)
    if float((table - (table[0] + step * torch.arange(bins, dtype=torch.float64))).abs().max()) > 0.05:
        _fail("the FCPE cent_table is not a linear grid", "pass fcpe.pt as torchfcpe or DDSP-SVC publish it, unmodified")
    example = torch.sin(torch.arange(16000) * (2 * 3.141592653589793 * 220 / 16000)).unsqueeze(0) * 0.3
    info = {"hop_samples": config["mel"]["hop"], "bins": bins, "n_fft": config["mel"]["n_fft"], "threshold": config["threshold"],
            "first_frame_centre": graph.first_frame_centre, "cents_of_bin_0": float(table[0]), "cents_per_bin": step,
            # upstream's local argmax clamps the 9 indices around the peak into the grid (edge bins count twice or more)
            "decoder": "local_argmax_clamped",
            # torchfcpe's infer() zeroes f0 below the model's f0_min; the DDSP-SVC FCPE does not
            "unvoiced_below_hz": config["f0_min"] if config["layout"] == "torchfcpe" else 0,
            "layout": config["layout"], "config": {**config["model"], "mel": config["mel"]}}
    return graph, example, info


def published_layout(kind, data=None):
    """[name, shape] of every parameter/buffer of the network as its project publishes it (fcpe: as the
    checkpoint's own config describes it)."""
    if kind == "fcpe":
        from .pitch.fcpe import Fcpe
        config = _fcpe_config(data)
        net = Fcpe(config["layout"], n_mels=config["mel"]["n_mels"], **config["model"])
    else:
        from .pitch.rmvpe import Rmvpe
        net = Rmvpe()  # RVC: E2E(4, 1, (2, 2))
    return [[k, list(v.shape)] for k, v in net.state_dict().items()]


def main():
    parser = argparse.ArgumentParser(prog="svc_py.import_f0")
    parser.add_argument("--model")
    parser.add_argument("--layout", choices=KINDS, help="only list the parameter names and shapes of the published network (tests)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--out", help="graph to write")
    target.add_argument("--out-dir", help="folder to write <kind>.onnx into")
    parser.add_argument("--kind", choices=KINDS)
    args = parser.parse_args()
    if args.layout:
        if args.layout == "fcpe" and not args.model:
            parser.error("--layout fcpe needs --model (the layout follows the checkpoint's config)")
        return {"keys": published_layout(args.layout, load_checkpoint(args.model) if args.model else None)}
    if not args.model or not (args.out or args.out_dir):
        parser.error("--model and one of --out/--out-dir are required")

    data = load_checkpoint(args.model)
    kind = detect_kind(data)
    if kind is None:
        found = ", ".join(sorted(map(str, data.keys()))[:6]) if isinstance(data, dict) else type(data).__name__
        _fail(f"{os.path.basename(args.model)} is neither RMVPE (unet.* weights) nor FCPE (model + config_dict or config, with a cent_table); found {found}",
              "pass rmvpe.pt as RVC publishes it, or fcpe.pt from torchfcpe / RVC / Applio / DDSP-SVC")
    if args.kind and args.kind != kind:
        _fail(f"--kind {args.kind} was given but {os.path.basename(args.model)} is an {kind.upper()} checkpoint", f"use --kind {kind} or leave --kind out")
    graph, example, info = build_fcpe(data) if kind == "fcpe" else build_rmvpe(data)
    if args.out is None:
        args.out = os.path.join(args.out_dir, f"{kind}.onnx")
    progress(f"{kind}: {sum(p.numel() for p in graph.parameters())} parameters, {json.dumps(info['config'])}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    started = time.time()
    tmp = args.out + ".partial"
    try:
        with torch.no_grad():
            torch.onnx.export(graph, (example,), tmp, input_names=["audio"], output_names=["activation"],
                              dynamic_axes={"audio": {1: "samples"}, "activation": {1: "frames"}}, opset_version=OPSET)
        os.replace(tmp, args.out)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    meta = {"format": "svc-f0-model", "format_version": 1, "kind": kind, "opset": OPSET, "sample_rate": 16000,
            "inputs": [{"name": "audio", "dtype": "float32", "shape": [1, "samples"]}],
            "outputs": [{"name": "activation", "dtype": "float32", "shape": [1, "frames", info["bins"]]}],
            "source": os.path.basename(args.model), **info}
    meta_path = os.path.splitext(args.out)[0] + ".json"
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2)
    return {"out": os.path.abspath(args.out), "meta": meta, "export_seconds": time.time() - started}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
