"""RMVPE (Wei et al. 2023) as RVC publishes it (`rmvpe.pt`: a bare state_dict of RVC's
infer/lib/rmvpe.py E2E(n_blocks=4, n_gru=1, kernel_size=(2, 2))), rebuilt with the same parameter
names so the checkpoint loads strictly. The depth (blocks, encoder levels, intermediate layers, GRU
layers, first width) is read from the keys, so smaller test checkpoints load too.

Graph exported by `RmvpeOnnx`: audio f32 [1, N] at 16 kHz (N >= 513) -> activation f32 [1, T, 360],
T = N // 160 + 1, frame t centred at sample 160 t. Inside, as RVC's RMVPE.infer_from_audio: log mel
(128 bands 30-8000 Hz, HTK scale, n_fft 1024, hop 160, magnitude, clamp 1e-5), frames zero-padded to a
multiple of 32, U-Net + BiGRU + sigmoid, cropped back to T. Bin b is 1997.38 + 20 b cents re 10 Hz
(CREPE's grid); RVC decodes a weighted average of the 9 bins around the argmax, unvoiced when the
peak is <= 0.03 (decoding is done by the caller, src/dsp/f0/rmvpe.ts)."""
import re

import torch
from torch import nn

from .mel import LogMel

N_MELS = 128
N_BINS = 360
SAMPLE_RATE = 16000
HOP = 160
FRAME_MULTIPLE = 32


class ConvBlockRes(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())
        self.has_shortcut = cin != cout
        if self.has_shortcut:
            self.shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x) + (self.shortcut(x) if self.has_shortcut else x)


class ResBlocks(nn.Module):
    """n ConvBlockRes in a row (`conv.<i>`), optionally average-pooled (encoder levels)."""

    def __init__(self, cin, cout, n_blocks, pool):
        super().__init__()
        self.conv = nn.ModuleList([ConvBlockRes(cin if i == 0 else cout, cout) for i in range(n_blocks)])
        self.pool = nn.AvgPool2d(pool) if pool else None

    def forward(self, x):
        for block in self.conv:
            x = block(x)
        return x


class Encoder(nn.Module):
    def __init__(self, levels, n_blocks, width, kernel):
        super().__init__()
        self.bn = nn.BatchNorm2d(1)
        self.layers = nn.ModuleList()
        cin = 1
        for i in range(levels):
            self.layers.append(ResBlocks(cin, width * 2 ** i, n_blocks, kernel))
            cin = width * 2 ** i

    def forward(self, x):
        skips = []
        x = self.bn(x)
        for layer in self.layers:
            x = layer(x)
            skips.append(x)
            x = layer.pool(x)
        return x, skips


class DecoderLevel(nn.Module):
    def __init__(self, cin, cout, n_blocks, stride):
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 3, stride=stride, padding=1, output_padding=(0, 1) if stride == (1, 2) else (1, 1), bias=False),
            nn.BatchNorm2d(cout), nn.ReLU())
        self.conv2 = nn.ModuleList([ConvBlockRes(cout * 2 if i == 0 else cout, cout) for i in range(n_blocks)])

    def forward(self, x, skip):
        x = torch.cat((self.conv1(x), skip), dim=1)
        for block in self.conv2:
            x = block(x)
        return x


class DeepUnet(nn.Module):
    def __init__(self, levels, inter_layers, n_blocks, width, kernel):
        super().__init__()
        self.encoder = Encoder(levels, n_blocks, width, kernel)
        deepest = width * 2 ** (levels - 1)
        self.intermediate = nn.Module()
        self.intermediate.layers = nn.ModuleList([ResBlocks(deepest if i == 0 else deepest * 2, deepest * 2, n_blocks, None) for i in range(inter_layers)])
        self.decoder = nn.Module()
        self.decoder.layers = nn.ModuleList([DecoderLevel(deepest * 2 // 2 ** i, deepest // 2 ** i, n_blocks, kernel) for i in range(levels)])

    def forward(self, x):
        x, skips = self.encoder(x)
        for layer in self.intermediate.layers:
            x = layer(x)
        for i, layer in enumerate(self.decoder.layers):
            x = layer(x, skips[-1 - i])
        return x


class BiGRU(nn.Module):
    def __init__(self, n_in, hidden, layers):
        super().__init__()
        self.gru = nn.GRU(n_in, hidden, num_layers=layers, batch_first=True, bidirectional=True)

    def forward(self, x):
        return self.gru(x)[0]


class Rmvpe(nn.Module):
    """mel [B, 128, T] (T a multiple of 2**levels) -> salience [B, T, 360]."""

    def __init__(self, n_blocks=4, n_gru=1, levels=5, inter_layers=4, width=16, kernel=(2, 2)):
        super().__init__()
        self.config = {"n_blocks": n_blocks, "n_gru": n_gru, "levels": levels, "inter_layers": inter_layers, "width": width}
        self.unet = DeepUnet(levels, inter_layers, n_blocks, width, kernel)
        self.cnn = nn.Conv2d(width, 3, 3, padding=1)
        if n_gru:
            self.fc = nn.Sequential(BiGRU(3 * N_MELS, 256, n_gru), nn.Linear(512, N_BINS), nn.Dropout(0.25), nn.Sigmoid())
        else:
            self.fc = nn.Sequential(nn.Linear(3 * N_MELS, N_BINS), nn.Dropout(0.25), nn.Sigmoid())

    def forward(self, mel):
        x = self.cnn(self.unet(mel.transpose(-1, -2).unsqueeze(1))).transpose(1, 2).flatten(-2)
        return self.fc(x)


def config_from_state(state):
    """The E2E hyper-parameters a state_dict was built with (RVC's rmvpe.pt: 4, 1, 5, 4, 16)."""
    def count(pattern):
        found = {int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m}
        return max(found) + 1 if found else 0
    return {
        "n_blocks": count(r"unet\.encoder\.layers\.0\.conv\.(\d+)\."),
        "n_gru": count(r"fc\.0\.gru\.weight_ih_l(\d+)$"),
        "levels": count(r"unet\.encoder\.layers\.(\d+)\."),
        "inter_layers": count(r"unet\.intermediate\.layers\.(\d+)\."),
        "width": int(state["unet.encoder.layers.0.conv.0.conv.0.weight"].shape[0]) if "unet.encoder.layers.0.conv.0.conv.0.weight" in state else 0,
    }


class RmvpeOnnx(nn.Module):
    """audio [1, N] 16 kHz -> activation [1, N // 160 + 1, 360] (the module docstring)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.mel = LogMel(SAMPLE_RATE, 1024, HOP, N_MELS, 30, 8000, htk=True, clamp=1e-5)

    def forward(self, audio):
        mel = self.mel(audio)
        frames = mel.shape[-1]
        padded = (frames + FRAME_MULTIPLE - 1) // FRAME_MULTIPLE * FRAME_MULTIPLE
        mel = torch.cat([mel, torch.zeros(mel.shape[0], N_MELS, padded - frames, dtype=mel.dtype)], dim=-1)
        return self.net(mel)[:, :frames]
