"""Reading RVC model files as data. RVC's WebUI saves (infer/lib/train/process_ckpt.py `savee`):

  {"weight": state_dict without enc_q.* (float16), "config": [18 hyper-parameters, see CONFIG_FIELDS],
   "info": "<n>epoch", "sr": "32k"|"40k"|"48k", "f0": 1|0, "version": "v1"|"v2"}

v1 takes 256-d content (hubert_base layer 9 + final_proj), v2 768-d (layer 12). Newer RVC forks
save weight-norm parametrizations (`.parametrizations.weight.original0/1`); they are renamed to
the classic `weight_g`/`weight_v` keys here."""

import torch

from ..checkpoint_io import mismatch_details, read_torch_file, state_dict_mismatch
from ..events import SvcPyError

CONFIG_FIELDS = ("spec_channels", "segment_size", "inter_channels", "hidden_channels", "filter_channels", "n_heads",
                 "n_layers", "kernel_size", "p_dropout", "resblock", "resblock_kernel_sizes", "resblock_dilation_sizes",
                 "upsample_rates", "upsample_initial_channel", "upsample_kernel_sizes", "spk_embed_dim", "gin_channels",
                 "sr")
SR_NAMES = {"32k": 32000, "40k": 40000, "48k": 48000}
CONTENT_DIMS = {"v1": 256, "v2": 768}


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def _rename_parametrizations(state):
    out = {}
    for key, value in state.items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g").replace(".parametrizations.weight.original1", ".weight_v")
        out[key] = value
    return out


def parse_checkpoint(data, path="model"):
    """RVC checkpoint dict -> {state, config (dict by CONFIG_FIELDS), version, f0, sampling_rate, info}."""
    if not isinstance(data, dict) or not isinstance(data.get("weight"), dict) or not isinstance(data.get("config"), (list, tuple)):
        found = ", ".join(sorted(map(str, data.keys()))[:8]) if isinstance(data, dict) else type(data).__name__
        hint = "pass the small model file RVC writes to assets/weights/<name>.pth, not a G_*.pth training checkpoint"
        if isinstance(data, dict) and isinstance(data.get("model"), dict):
            hint = ("this looks like a training checkpoint (G_*.pth / so-vits-svc); pass RVC's exported model from assets/weights/<name>.pth, "
                    "or use svc import-sovits for so-vits-svc models")
        _fail(f"{path} is a PyTorch file but not an RVC model: expected a dict with 'weight' and 'config', found {found}", hint)
    values = list(data["config"])
    if len(values) != len(CONFIG_FIELDS):
        _fail(f"{path}: RVC config has {len(values)} entries, expected {len(CONFIG_FIELDS)} ({', '.join(CONFIG_FIELDS)})",
              "pass a model saved by RVC WebUI v1/v2")
    config = dict(zip(CONFIG_FIELDS, values))
    state = _rename_parametrizations({k: v for k, v in data["weight"].items() if not k.startswith("enc_q.")})
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    if "enc_p.emb_phone.weight" not in state or "emb_g.weight" not in state:
        _fail(f"{path}: the weights have no enc_p.emb_phone / emb_g (first keys: {', '.join(list(state)[:4])})",
              "pass an RVC v1/v2 model file")
    content_dim = int(state["enc_p.emb_phone.weight"].shape[1])
    version = str(data.get("version", "v1"))
    if version not in CONTENT_DIMS:
        _fail(f"{path}: version {version!r} is not known; expected v1 or v2")
    if CONTENT_DIMS[version] != content_dim:
        _fail(f"{path}: says version {version} ({CONTENT_DIMS[version]}-d content) but enc_p.emb_phone takes {content_dim}-d features",
              "the file is inconsistent; re-export it from RVC")
    has_f0 = "enc_p.emb_pitch.weight" in state
    declared_f0 = data.get("f0", 1)
    if int(declared_f0) != int(has_f0):
        _fail(f"{path}: says f0={declared_f0} but the weights {'have' if has_f0 else 'lack'} the pitch embedding",
              "the file is inconsistent; re-export it from RVC")
    sr = config["sr"]
    rate = SR_NAMES.get(sr, sr) if isinstance(sr, str) else int(sr)
    if not isinstance(rate, int) or rate <= 0:
        _fail(f"{path}: sampling rate {sr!r} is not understood; expected 32k, 40k, 48k or a number of Hz")
    config["sr"] = rate
    # RVC's export does the same: the speaker table's real size wins over the saved spk_embed_dim.
    config["spk_embed_dim"] = int(state["emb_g.weight"].shape[0])
    config["resblock"] = str(config["resblock"])
    return {"state": state, "config": config, "version": version, "f0": has_f0, "sampling_rate": rate,
            "content_dim": content_dim, "info": str(data.get("info", "")), "sr_name": data.get("sr")}


def load_rvc_file(path):
    data = read_torch_file(path, "RVC model", "pass the RVC model .pth (RVC writes it to assets/weights/)")
    return parse_checkpoint(data, path)


def check_state_dict(state, expected):
    missing, unexpected, differ = state_dict_mismatch(state, expected)
    if not (missing or unexpected or differ):
        return
    details = mismatch_details(missing, unexpected, differ, source="file")
    _fail("RVC weights do not match the model their config describes: " + " | ".join(details),
          "the file was edited or saved by an incompatible fork; re-export it from RVC")
