"""`python -m svc_py.seed_base --from models/sovits_tiny_base --config small --out DIR [--seed N]`

A starting point for pretraining a new config from an existing base: the new config's generator
with random weights (seeded), then every tensor the old base has with the same name and shape
copied in (for tiny -> small: the NSF-HiFiGAN vocoder `dec.*`, which is the slow part to learn on
a CPU and the one that falls into a 50 Hz buzz from random weights; docs/training.md). The
discriminator is copied when its architecture matches, else left random. Written as G_0.pth /
D_0.pth in so-vits-svc's base convention for `svc train --base DIR`; no base.json, because the
content side (pre-net, text encoder) starts fresh and may learn any encoder's units."""
import argparse
import os

from .events import progress, run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.seed_base")
    parser.add_argument("--from", dest="source", required=True, help="a base folder with G_0.pth (and D_0.pth)")
    parser.add_argument("--config", required=True, help="tiny | small | standard | config.json of the new model")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    import torch

    from .safe_pickle import load_torch_file
    from .sovits.models import build_generator
    from .train.checkpoints import save_atomic
    from .train.config import load_config
    from .train.model import build_discriminator

    config = load_config(args.config)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    copied = {}
    for prefix, net in (("G", build_generator(config)), ("D", build_discriminator(config))):
        own = net.state_dict()
        path = os.path.join(args.source, f"{prefix}_0.pth")
        state = load_torch_file(path)["model"] if os.path.exists(path) else {}
        same = {k: state[k].to(v.dtype) for k, v in own.items() if k in state and state[k].shape == v.shape}
        own.update(same)
        copied[prefix] = f"{sum(v.numel() for v in same.values())} of {sum(v.numel() for v in own.values())} weights"
        save_atomic({"model": own, "iteration": 0, "optimizer": None, "learning_rate": config["train"]["learning_rate"]},
                    os.path.join(args.out, f"{prefix}_0.pth"))
    progress(f"seed base {args.out}: generator {copied['G']} and discriminator {copied['D']} from {args.source}")
    return {"out": os.path.abspath(args.out), "copied": copied}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
