"""`python -m svc_py.export_encoder --kind tiny_conv|hubert_base --dim D [--layer L] --out E.onnx [--seed S]`:
writes a random-weight content encoder in the source -> embed convention (see encoders.py), e.g. a
256-d or 768-d stand-in for RVC's hubert_base features in tests and benchmarks."""
import argparse

from .events import run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.export_encoder")
    parser.add_argument("--kind", choices=["tiny_conv", "hubert_base"], default="tiny_conv")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--layer", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    from .encoders import HubertLayerOutput, TinyConvEncoder, count_parameters, export_encoder
    encoder = TinyConvEncoder(dim=args.dim, seed=args.seed) if args.kind == "tiny_conv" else HubertLayerOutput(args.layer, args.seed)
    seconds = export_encoder(encoder, args.out)
    return {"out": args.out, "kind": args.kind, "dim": args.dim if args.kind == "tiny_conv" else 768,
            "parameters": count_parameters(encoder), "seconds": seconds}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
