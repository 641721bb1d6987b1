"""Writes a so-vits-svc release checkpoint from a full G_*.pth the way upstream's compress_model.py
does (test/fixtures/sovits_release_tiny.json records the layout of one that upstream's own script
wrote): enc_q.* dropped, weights optionally float16, a fresh AdamW state, iteration 0.

usage: release_checkpoint.py G_0.pth OUT.pth [--half]  -> prints the written file's layout as JSON"""
import json
import sys

import torch

from svc_py import safe_pickle

source, out = sys.argv[1], sys.argv[2]
half = "--half" in sys.argv
state = safe_pickle.load_torch_file(source)["model"]
kept = {k: (v.half() if half else v) for k, v in state.items() if "enc_q" not in k}
params = [torch.nn.Parameter(v.float()) for v in state.values()]  # upstream's optimizer covers every parameter of the net
optimizer = torch.optim.AdamW(params, 1e-4, betas=(0.8, 0.99), eps=1e-9)
torch.save({"model": kept, "iteration": 0, "optimizer": optimizer.state_dict(), "learning_rate": 0.0001}, out)
written = safe_pickle.load_torch_file(out)
print(json.dumps({"top_keys": list(written), "model_dtypes": sorted({str(v.dtype).replace("torch.", "") for v in written["model"].values()}),
                  "model_keys": len(written["model"]), "removed_keys": sorted(k for k in state if k not in written["model"]),
                  "optimizer_keys": list(written["optimizer"]), "optimizer_param_group_keys": list(written["optimizer"]["param_groups"][0])}))
