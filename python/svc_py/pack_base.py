"""`python -m svc_py.pack_base RUN --out DIR [--step N] --trained-on TEXT`

Turns a training run into a pretrained base that `svc train --base DIR` fine-tunes from, in
so-vits-svc's convention: G_0.pth and D_0.pth ({model, iteration 0, optimizer None,
learning_rate}), so upstream tools read them too. Weights are stored as float16 (half the size;
the trainer loads them back into float32), without optimizer state. base.json records what the
base was trained on and the content encoder whose units it learned (the trainer refuses a dataset
made with another encoder).
"""
import argparse
import json
import os
import shutil

from .events import SvcPyError, progress, run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.pack_base")
    parser.add_argument("run")
    parser.add_argument("--out", required=True)
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest)")
    parser.add_argument("--trained-on", required=True, help="one line naming the data and its licences")
    args = parser.parse_args()

    import torch

    from .safe_pickle import load_torch_file
    from .train.checkpoints import latest_checkpoint, save_atomic

    step = args.step if args.step is not None else latest_checkpoint(args.run)
    if step is None or not os.path.exists(os.path.join(args.run, f"G_{step}.pth")):
        raise SvcPyError("FILE_NOT_FOUND", f"{args.run}: no checkpoint G_{step}.pth/D_{step}.pth", "pass a run folder of svc train")
    with open(os.path.join(args.run, "run.json"), encoding="utf-8") as handle:
        run_info = json.load(handle)
    os.makedirs(args.out, exist_ok=True)
    sizes, states = {}, {}
    for prefix in ("G", "D"):
        state = states[prefix] = load_torch_file(os.path.join(args.run, f"{prefix}_{step}.pth"))
        weights = {k: (v.half() if v.is_floating_point() else v) for k, v in state["model"].items()}
        path = os.path.join(args.out, f"{prefix}_0.pth")
        save_atomic({"model": weights, "iteration": 0, "optimizer": None, "learning_rate": state["learning_rate"]}, path)
        sizes[prefix] = os.path.getsize(path)
    shutil.copyfile(os.path.join(args.run, "config.json"), os.path.join(args.out, "config.json"))
    history = states["G"].get("svc", {}).get("history", [])
    info = {"trained_on": args.trained_on, "steps": step, "encoder": run_info.get("encoder"), "f0_method": run_info.get("f0_method"),
            "config": run_info.get("config"), "speakers": run_info.get("speakers"),
            "final_losses": history[-1]["losses"] if history else None}
    with open(os.path.join(args.out, "base.json"), "w", encoding="utf-8") as handle:
        json.dump(info, handle, indent=2)
    progress(f"base written to {args.out}: G_0.pth {sizes['G'] / 1e6:.1f} MB, D_0.pth {sizes['D'] / 1e6:.1f} MB (step {step} of {args.run})")
    return {"out": os.path.abspath(args.out), "step": step, "bytes": sizes}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
