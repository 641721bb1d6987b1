"""Writing svc model bundles: a folder with manifest.json, config.json, generator.onnx,
speakers.json and optionally encoder.onnx. src/voices/sovits/bundle.ts reads and validates them;
docs/models.md documents every field."""
import contextlib
import datetime
import json
import os
import shutil

from .events import SvcPyError

BUNDLE_FORMAT = "svc-sovits-bundle"
BUNDLE_FORMAT_VERSION = 1


BUNDLE_FILES = ("manifest.json", "config.json", "speakers.json", "generator.onnx", "encoder.onnx", "cluster.onnx", "generator.int8.onnx", "encoder.int8.onnx", "G_0.pth")


def prepare_out_dir(out_dir, force=False):
    """Creates the output folder; returns True if it did not exist before."""
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise SvcPyError("INVALID_ARGUMENT", f"--out {out_dir} exists and is not a folder", "choose a new folder name")
        if os.listdir(out_dir) and not force:
            raise SvcPyError("INVALID_ARGUMENT", f"--out {out_dir} exists and is not empty", "choose a new folder or pass --force to overwrite")
        return False
    os.makedirs(out_dir)
    return True


@contextlib.contextmanager
def bundle_output(out_dir, force=False):
    """Yields the prepared folder; if the body fails, removes what a bundle build writes (and the
    folder if it was created here) so no half-written bundle is left behind."""
    created = prepare_out_dir(out_dir, force)
    try:
        yield out_dir
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            for name in BUNDLE_FILES:
                path = os.path.join(out_dir, name)
                if os.path.isfile(path):
                    os.remove(path)
        raise


def onnx_io(path):
    """Input/output names, element types and dims of an ONNX file (dims: int or symbolic name)."""
    import onnx
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as error:
        raise SvcPyError("MODEL_INVALID", f"{path} is not an ONNX model ({str(error)[:120]})", "pass an .onnx file")
    types = {1: "float32", 7: "int64", 6: "int32", 10: "float16", 11: "float64", 9: "bool"}
    def describe(value):
        tensor = value.type.tensor_type
        dims = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else None) for d in tensor.shape.dim]
        return {"name": value.name, "dtype": types.get(tensor.elem_type, str(tensor.elem_type)), "shape": dims}
    initializers = {i.name for i in model.graph.initializer}
    inputs = [describe(v) for v in model.graph.input if v.name not in initializers]
    return inputs, [describe(v) for v in model.graph.output], [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]


def describe_user_encoder(path):
    """Recognizes the two common content-encoder conventions: `source` [1,1,N] -> `embed` [1,T,D]
    (so-vits-svc *-onnx, fairseq exports) and `audio` [1,N] -> `units` [1,T,D] (soft-VC hubert)."""
    inputs, outputs, opsets = onnx_io(path)
    if len(inputs) != 1 or not outputs:
        raise SvcPyError("MODEL_INVALID", f"encoder {path} has inputs {[i['name'] for i in inputs]}; expected one audio input (source [1,1,N] or audio [1,N])",
                         "export the encoder with a single waveform input")
    given, out = inputs[0], outputs[0]
    if given["dtype"] != "float32":
        raise SvcPyError("MODEL_INVALID", f"encoder input {given['name']} is {given['dtype']}; expected float32 audio")
    rank = len(given["shape"])
    if rank == 3:
        convention = "source-embed"
    elif rank == 2:
        convention = "audio-units"
    else:
        raise SvcPyError("MODEL_INVALID", f"encoder input {given['name']} has rank {rank} (shape {given['shape']}); expected [1,1,N] (source) or [1,N] (audio)")
    dim = out["shape"][-1] if out["shape"] and isinstance(out["shape"][-1], int) else None
    return {"convention": convention, "input": given["name"], "output": out["name"], "dim": dim, "opset": opsets[0] if opsets else None}


def write_bundle(out_dir, config, original_config, generator_info, speakers, name, source, parameters, encoder=None, speaker_mix=None, cluster=None, int8=None, speaker_f0_hz=None):
    """Writes speakers.json, config.json and manifest.json (the ONNX files are already in out_dir).
    speaker_mix: None (sid int64 [1]) or {"graph": "per-frame", "columns": [speaker names]} for
    upstream's speaker-mix graph (sid float32 [T, len(columns)]).
    int8: the int8 graphs' entry from quantize.write_int8 (None: float only).
    speaker_f0_hz: {speaker: typical f0 in Hz} for auto-pitch (None: not recorded)."""
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as handle:
        json.dump(original_config, handle, indent=2)
    with open(os.path.join(out_dir, "speakers.json"), "w", encoding="utf-8") as handle:
        json.dump(speakers, handle, indent=2)
    model = config["model"]
    data = config["data"]
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "name": name,
        "model_type": "so-vits-svc",
        "sovits_version": config["version"],
        "sampling_rate": int(data["sampling_rate"]),
        "hop_length": int(data["hop_length"]),
        "ssl_dim": int(model["ssl_dim"]),
        "speech_encoder": config["speech_encoder"],
        "vol_embedding": bool(model.get("vol_embedding", False)),
        "inter_channels": int(model["inter_channels"]),
        "n_speakers": int(model["n_speakers"]),
        "speakers": speakers,
        "content_frame_seconds": 0.02,
        "generator": {
            "file": "generator.onnx",
            "opset": generator_info["opset"],
            "inputs": generator_info["inputs"],
            "outputs": generator_info["outputs"],
            "dynamic_axes": generator_info["dynamic_axes"],
            **({"source_noise": generator_info["source_noise"]} if generator_info.get("source_noise") else {}),
        },
        "encoder": encoder,
        "speaker_mix": speaker_mix,
        "cluster": cluster,
        "int8": int8,
        "parameters": parameters,
        "source": source,
    }
    if speaker_f0_hz:
        manifest["speaker_f0_hz"] = speaker_f0_hz
    return write_manifest(out_dir, manifest)


def write_manifest(out_dir, manifest):
    """Stamps `created` (UTC, seconds) and writes manifest.json: one writer for every bundle family."""
    manifest = {**manifest, "created": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()}
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    return manifest


def copy_user_encoder(encoder_path, out_dir, expected_dim, speech_encoder):
    if not os.path.isfile(encoder_path):
        raise SvcPyError("FILE_NOT_FOUND", f"encoder not found: {encoder_path}", "pass the content encoder .onnx that matches the model's speech_encoder")
    info = describe_user_encoder(encoder_path)
    if info["dim"] is not None and info["dim"] != expected_dim:
        raise SvcPyError("MODEL_INVALID", f"encoder {encoder_path} gives {info['dim']}-d features but the model ({speech_encoder}) takes {expected_dim}-d",
                         f"use the {speech_encoder} encoder")
    shutil.copyfile(encoder_path, os.path.join(out_dir, "encoder.onnx"))
    return {"file": "encoder.onnx", **info, "sample_rate": 16000, "hop_samples": 320, "kind": "user",
            "description": f"user-supplied {speech_encoder} encoder ({os.path.basename(encoder_path)})"}
