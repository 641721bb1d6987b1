"""`python -m svc_py.pitch.random_checkpoint --kind fcpe|rmvpe --out FILE.pt`: a checkpoint with random weights in the
layout users have, at the published size, so benchmarks can time `svc import-f0` graphs without the real weights
(none are on this machine). fcpe: torchfcpe's CFNaiveMelPE as its train/configs/config.yaml sizes it (512 wide,
6 conv-only layers, fa-norm) with the default 128-band mel; rmvpe: RVC's E2E(4, 1, (2, 2)). Timing does not depend
on the weights; pitch from these is meaningless."""
import argparse

import torch

from ..events import run_main

FCPE_CONFIG = {
    "mel": {"type": "default", "sr": 16000, "num_mels": 128, "n_fft": 1024, "win_size": 1024, "hop_size": 160, "fmin": 0, "fmax": 8000},
    "model": {"type": "CFNaiveMelPE", "out_dims": 360, "hidden_dims": 512, "n_layers": 6, "n_heads": 8, "f0_min": 32.70, "f0_max": 1975.5,
              "use_fa_norm": True, "conv_only": True, "conv_dropout": 0.0, "atten_dropout": 0.0, "use_harmonic_emb": False},
}


def main():
    parser = argparse.ArgumentParser(prog="svc_py.pitch.random_checkpoint")
    parser.add_argument("--kind", choices=("fcpe", "rmvpe"), required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.kind == "fcpe":
        from .fcpe import Fcpe
        cfg = FCPE_CONFIG["model"]
        net = Fcpe("torchfcpe", n_mels=FCPE_CONFIG["mel"]["num_mels"], out_dims=cfg["out_dims"], hidden=cfg["hidden_dims"], n_layers=cfg["n_layers"],
                   n_heads=cfg["n_heads"], use_fa_norm=cfg["use_fa_norm"], conv_only=cfg["conv_only"], harmonic_emb=False)
        with torch.no_grad():
            net.output_proj.weight_v.normal_()
            # the grid torchfcpe registers: linspace(cents(f0_min), cents(f0_max), out_dims) re 10 Hz
            cents = lambda hz: 1200 * torch.log2(torch.tensor(hz / 10.0))
            net.cent_table.copy_(torch.linspace(float(cents(cfg["f0_min"])), float(cents(cfg["f0_max"])), cfg["out_dims"]))
        torch.save({"model": net.state_dict(), "config_dict": FCPE_CONFIG}, args.out)
    else:
        from .rmvpe import Rmvpe
        net = Rmvpe()
        torch.save(net.state_dict(), args.out)
    return {"out": args.out, "parameters": sum(p.numel() for p in net.parameters())}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
