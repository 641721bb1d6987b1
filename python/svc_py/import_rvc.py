"""`python -m svc_py.import_rvc --model M.pth --out DIR [--name N] [--index F.index] [--encoder E.onnx]
[--force] [--export-deterministic PATH]`: reads an RVC v1/v2 model file as data, loads it strictly
into svc's RVC synthesizer and writes an RVC bundle (manifest.json with model_type "rvc",
generator.onnx in RVC's export signature, the .index copied as-is). --export-deterministic also
writes the same graph with a noise-free NSF source (parity tests)."""
import argparse
import os
import shutil

from .events import SvcPyError, progress, run_main

RVC_BUNDLE_FORMAT = "svc-rvc-bundle"


def write_rvc_manifest(out_dir, name, info, generator, n_speakers, source, parameters, index=None, encoder=None):
    manifest = {
        "format": RVC_BUNDLE_FORMAT,
        "format_version": 1,
        "name": name,
        "model_type": "rvc",
        "rvc_version": info["version"],
        "f0": info["f0"],
        "sampling_rate": info["sampling_rate"],
        "hop_length": info["hop_length"],
        "content_dim": info["content_dim"],
        "inter_channels": info["inter_channels"],
        "n_speakers": n_speakers,
        "content_frame_seconds": 0.02,
        "generator": generator,
        "index": index,
        "encoder": encoder,
        "parameters": parameters,
        "source": source,
    }
    from .bundle import write_manifest

    return write_manifest(out_dir, manifest)


def main():
    parser = argparse.ArgumentParser(prog="svc_py.import_rvc")
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--name")
    parser.add_argument("--index")
    parser.add_argument("--encoder")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--export-deterministic")
    args = parser.parse_args()

    from .bundle import bundle_output, describe_user_encoder
    from .rvc.checkpoint import check_state_dict, load_rvc_file
    from .rvc.export import export_rvc
    from .rvc.models import RvcSynthesizer, count_parameters

    if args.index and not os.path.isfile(args.index):
        raise SvcPyError("FILE_NOT_FOUND", f"index not found: {args.index}", "pass the added_IVF*.index file RVC wrote to logs/<name>/")
    parsed = load_rvc_file(args.model)
    config = parsed["config"]
    progress(f"RVC {parsed['version']} ({parsed['content_dim']}-d content), {parsed['sampling_rate']} Hz, "
             f"{'with' if parsed['f0'] else 'without'} f0, {config['spk_embed_dim']} speaker slot(s)")
    net = RvcSynthesizer(config, parsed["content_dim"], parsed["f0"])
    check_state_dict(parsed["state"], net.state_dict())
    net.load_state_dict(parsed["state"], strict=True)
    net.eval()
    encoder = None
    if args.encoder:
        encoder = describe_user_encoder(args.encoder)
        if encoder["dim"] is not None and encoder["dim"] != parsed["content_dim"]:
            raise SvcPyError("MODEL_INVALID", f"encoder {args.encoder} gives {encoder['dim']}-d features but this RVC {parsed['version']} model takes {parsed['content_dim']}-d",
                             "v1 models take hubert_base layer 9 + final_proj (256-d), v2 take layer 12 (768-d)")
    with bundle_output(args.out, args.force):
        generator = export_rvc(net, os.path.join(args.out, "generator.onnx"))
        progress(f"generator.onnx written in {generator['seconds']:.1f} s")
        if args.export_deterministic:
            export_rvc(net, args.export_deterministic, deterministic_source=True)
        index = None
        if args.index:
            shutil.copyfile(args.index, os.path.join(args.out, "model.index"))
            index = {"file": "model.index", "original": os.path.basename(args.index)}
        if encoder:
            shutil.copyfile(args.encoder, os.path.join(args.out, "encoder.onnx"))
            encoder = {"file": "encoder.onnx", **encoder, "sample_rate": 16000, "hop_samples": 320, "kind": "user",
                       "description": f"user-supplied encoder ({os.path.basename(args.encoder)})"}
        name = args.name or os.path.basename(os.path.normpath(args.out))
        info = {"version": parsed["version"], "f0": parsed["f0"], "sampling_rate": parsed["sampling_rate"],
                "hop_length": net.hop_length, "content_dim": parsed["content_dim"], "inter_channels": net.inter_channels}
        gen = {"file": "generator.onnx", **{k: generator[k] for k in ("opset", "inputs", "outputs", "dynamic_axes")}}
        manifest = write_rvc_manifest(args.out, name, info, gen, net.n_speakers,
                                      {"type": "import-rvc", "model": os.path.basename(args.model), "info": parsed["info"]},
                                      {"generator": count_parameters(net)}, index, encoder)
    return {"out": os.path.abspath(args.out), "manifest": manifest, "export_seconds": generator["seconds"]}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
