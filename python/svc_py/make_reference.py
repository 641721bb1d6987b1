"""`python -m svc_py.make_reference --size tiny|standard --out DIR [--seed N] [--force]`:
builds a RANDOM-WEIGHT So-VITS-SVC bundle of the real architecture (for tests, benchmarks and
latency work; it produces noise-like speech, not a voice).

standard: the so-vits-svc 4.1 44.1 kHz template (configs_template/config_template.json values:
  hidden 192, filter 768, 6 layers, upsample [8,8,2,2,2] = hop 512, ssl_dim 768, vec768l12) with
  a HuBERT-base-size encoder (layer 12 output, 768-d).
tiny: the same architecture at 16 kHz / hop 320 with tiny widths (hidden 32, 2 layers, upsample
  channel 64), vol_embedding, depthwise convs and a shared flow WaveNet (as upstream's tiny
  template), and a tiny conv encoder (256-d, same framing) - builds in seconds, trains on a CPU."""
import argparse
import copy
import os
import time

from .events import progress, run_main

TRAIN_41 = {
    "log_interval": 200, "eval_interval": 800, "seed": 1234, "epochs": 10000, "learning_rate": 0.0001,
    "betas": [0.8, 0.99], "eps": 1e-09, "batch_size": 6, "fp16_run": False, "half_type": "fp16",
    "lr_decay": 0.999875, "segment_size": 10240, "init_lr_ratio": 1, "warmup_epochs": 0, "c_mel": 45,
    "c_kl": 1.0, "use_sr": True, "max_speclen": 512, "port": "8001", "keep_ckpts": 3, "all_in_mem": False,
    "vol_aug": False,
}

STANDARD_CONFIG = {
    "train": TRAIN_41,
    "data": {
        "training_files": "filelists/train.txt", "validation_files": "filelists/val.txt", "max_wav_value": 32768.0,
        "sampling_rate": 44100, "filter_length": 2048, "hop_length": 512, "win_length": 2048, "n_mel_channels": 80,
        "mel_fmin": 0.0, "mel_fmax": 22050, "unit_interpolate_mode": "nearest",
    },
    "model": {
        "inter_channels": 192, "hidden_channels": 192, "filter_channels": 768, "n_heads": 2, "n_layers": 6,
        "kernel_size": 3, "p_dropout": 0.1, "resblock": "1", "resblock_kernel_sizes": [3, 7, 11],
        "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "upsample_rates": [8, 8, 2, 2, 2],
        "upsample_initial_channel": 512, "upsample_kernel_sizes": [16, 16, 4, 4, 4], "n_layers_q": 3,
        "n_layers_trans_flow": 3, "n_flow_layer": 4, "use_spectral_norm": False, "gin_channels": 768, "ssl_dim": 768,
        "n_speakers": 200, "vocoder_name": "nsf-hifigan", "speech_encoder": "vec768l12", "speaker_embedding": False,
        "vol_embedding": False, "use_depthwise_conv": False, "flow_share_parameter": False,
        "use_automatic_f0_prediction": True, "use_transformer_flow": False,
    },
    "spk": {"reference_a": 0, "reference_b": 1},
}


def tiny_config():
    config = copy.deepcopy(STANDARD_CONFIG)
    config["train"]["segment_size"] = 6400  # 20 frames of 320 samples
    config["train"]["batch_size"] = 4
    config["train"]["vol_aug"] = True
    config["data"].update({"sampling_rate": 16000, "filter_length": 1024, "hop_length": 320, "win_length": 1024, "mel_fmax": 8000})
    config["model"].update({
        "inter_channels": 16, "hidden_channels": 32, "filter_channels": 64, "n_heads": 2, "n_layers": 2,
        # The vocoder keeps upstream's ResBlock1 (kernels 3 and 7, dilations 1/3/5) at 1/4 of its
        # width. A thinner one (ResBlock2, 64 channels) never learns to shape the NSF sine source in
        # a CPU-sized run: its output becomes a buzz at the 50 Hz frame rate that ignores f0
        # (docs/training.md, "Why the tiny vocoder looks like this").
        "resblock": "1", "resblock_kernel_sizes": [3, 7], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
        "upsample_rates": [8, 5, 4, 2], "upsample_initial_channel": 128, "upsample_kernel_sizes": [16, 11, 8, 4],
        "gin_channels": 32, "ssl_dim": 256, "n_speakers": 4, "speech_encoder": "vec256l9", "vol_embedding": True,
        "use_depthwise_conv": True, "flow_share_parameter": True,
    })
    config["spk"] = {"tiny_a": 0, "tiny_b": 1}
    return config


def main():
    parser = argparse.ArgumentParser(prog="svc_py.make_reference")
    parser.add_argument("--size", choices=["tiny", "standard"], required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--checkpoint", action="store_true", help="also write G_0.pth in upstream's layout")
    parser.add_argument("--speaker-mix", action="store_true", help="export the speaker-mix graph (sid float32 [T, speakers])")
    args = parser.parse_args()

    import torch

    from .bundle import bundle_output, write_bundle
    from .quantize import write_int8
    from .encoders import HubertLayerOutput, TinyConvEncoder, count_parameters as encoder_parameters, encoder_manifest, export_encoder
    from .sovits.checkpoint import save_upstream_checkpoint
    from .sovits.config import validate_config
    from .sovits.export import export_generator
    from .sovits.models import build_generator, count_parameters, inference_parameters

    original = STANDARD_CONFIG if args.size == "standard" else tiny_config()
    config = validate_config(copy.deepcopy(original))
    with bundle_output(args.out, args.force):
        torch.manual_seed(args.seed)
        started = time.time()
        net = build_generator(config).eval()
        build_seconds = time.time() - started
        progress(f"{args.size} generator: {count_parameters(net)} parameters (built in {build_seconds:.1f} s)")
        mix_ids = [config["spk"][n] for n in config["spk"]] if args.speaker_mix else None
        info = export_generator(net, os.path.join(args.out, "generator.onnx"), mix_speaker_ids=mix_ids)
        progress(f"generator.onnx exported in {info['seconds']:.1f} s")
        if args.checkpoint:
            save_upstream_checkpoint(net, os.path.join(args.out, "G_0.pth"))

        if args.size == "standard":
            encoder = HubertLayerOutput(layer=12, seed=args.seed)
            manifest_encoder = encoder_manifest("hubert_base", 768, layer=12)
        else:
            encoder = TinyConvEncoder(dim=256, seed=args.seed)
            manifest_encoder = encoder_manifest("tiny_conv", 256)
        encoder_seconds = export_encoder(encoder, os.path.join(args.out, "encoder.onnx"))
        manifest_encoder["opset"] = 16
        progress(f"encoder.onnx exported in {encoder_seconds:.1f} s ({encoder_parameters(encoder)} parameters)")

        parameters = {"generator": count_parameters(net), "generator_inference": inference_parameters(net),
                      "encoder": encoder_parameters(encoder)}
        int8 = write_int8(args.out, net, info, "encoder.onnx")
        name = os.path.basename(os.path.normpath(args.out))
        manifest = write_bundle(args.out, config, original, info, config["spk"], name,
                                {"type": "reference", "size": args.size, "seed": args.seed, "random_weights": True},
                                parameters, manifest_encoder, int8=int8,
                                speaker_mix={"graph": "per-frame", "columns": list(config["spk"])} if mix_ids else None)
    return {"out": os.path.abspath(args.out), "manifest": manifest, "parameters": parameters,
            "export_seconds": {"generator": info["seconds"], "encoder": encoder_seconds}}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
