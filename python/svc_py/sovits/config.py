"""so-vits-svc config.json: validation, version detection (4.0 / 4.1) and the model arguments.

The config's "model" section is passed to SynthesizerTrn as keyword arguments, exactly as upstream
does; "data" gives sampling_rate, hop_length and filter_length (spec_channels = filter_length//2+1).
Unknown keys are rejected (upstream silently ignores them, which hides typos and configs from other
forks); missing required keys are named."""
import copy
import json
import os

from ..events import SvcPyError

# Keys every so-vits-svc 4.x config has in "model" (the 4.0 template's set minus optional flags).
REQUIRED_MODEL_KEYS = [
    "inter_channels", "hidden_channels", "filter_channels", "n_heads", "n_layers", "kernel_size",
    "p_dropout", "resblock", "resblock_kernel_sizes", "resblock_dilation_sizes", "upsample_rates",
    "upsample_initial_channel", "upsample_kernel_sizes", "gin_channels", "ssl_dim", "n_speakers",
]
# Keys that appeared with 4.1 (any of them marks a 4.1 config).
KEYS_41 = [
    "speech_encoder", "vol_embedding", "vocoder_name", "use_depthwise_conv", "flow_share_parameter",
    "use_automatic_f0_prediction", "use_transformer_flow", "n_flow_layer", "n_layers_trans_flow",
    "speaker_embedding",
]
# Keys upstream writes but the generator does not read.
IGNORED_MODEL_KEYS = ["n_layers_q", "use_spectral_norm", "use_depthwise_transposeconv"]
# so-vits-svc-fork (voicepaw) writes these into "model": type_ picks the generator ("hifi-gan" is
# the So-VITS 4.0 architecture; "ms-istft" is its QuickVC variant), pretrained lists download URLs
# of its base checkpoints. Read (type_) or ignored with a note (pretrained).
FORK_MODEL_KEYS = ["type_", "pretrained"]
# 4.1 development key; only false (the default) is supported.
UNSUPPORTED_IF_TRUE = ["use_depthwise_transposeconv"]
KNOWN_MODEL_KEYS = set(REQUIRED_MODEL_KEYS + KEYS_41 + IGNORED_MODEL_KEYS + UNSUPPORTED_IF_TRUE + FORK_MODEL_KEYS)

REQUIRED_DATA_KEYS = ["sampling_rate", "hop_length", "filter_length"]
KNOWN_DATA_KEYS = set(REQUIRED_DATA_KEYS + [
    "training_files", "validation_files", "max_wav_value", "win_length", "n_mel_channels",
    "mel_fmin", "mel_fmax", "unit_interpolate_mode", "contentvec_final_proj",
])
KNOWN_TOP_KEYS = {"train", "data", "model", "spk"}
# Top-level keys validate_config adds to its normalized copy; dropped again before a config is written.
DERIVED_TOP_KEYS = ("version", "speech_encoder", "notes")

# Content-encoder names upstream accepts (and svc's own), with the feature width each produces.
SPEECH_ENCODERS = {
    "vec768l12": 768, "vec256l9": 256, "vec256l9-onnx": 256, "vec256l12-onnx": 256,
    "vec768l9-onnx": 768, "vec768l12-onnx": 768, "hubertsoft": 256, "hubertsoft-onnx": 256,
    "whisper-ppg": 1024, "whisper-ppg-large": 1280, "cnhubertlarge": 1024,
    "dphubert": 768, "wavlmbase+": 768,
    # svc's own encoder (python/svc_py/content, models/svc_phone_encoder): phone posteriors, or its bottleneck.
    "svcphone40": 40, "svcphone256": 256,
}

# The upstream 4.1 defaults for optional model keys (what SynthesizerTrn uses when absent).
DEFAULTS_41 = {
    "vol_embedding": False, "vocoder_name": "nsf-hifigan", "use_depthwise_conv": False,
    "use_automatic_f0_prediction": True, "flow_share_parameter": False, "n_flow_layer": 4,
    "n_layers_trans_flow": 3, "use_transformer_flow": False,
}


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def read_config(path):
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"config not found: {path}", "pass the so-vits-svc config.json that was used to train the checkpoint")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            config = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _fail(f"{path} is not a JSON file ({error})", "pass the so-vits-svc config.json (a JSON file with train/data/model/spk sections)")
    return validate_config(config, path)


def validate_config(config, path="config.json"):
    """Checks a so-vits-svc config dict; returns a normalized copy with `version` ("4.0"/"4.1") and
    `speech_encoder` resolved. Raises SvcPyError naming missing/unknown keys."""
    if not isinstance(config, dict):
        _fail(f"{path}: expected a JSON object with train/data/model/spk, found {type(config).__name__}")
    missing_sections = [k for k in ("data", "model") if not isinstance(config.get(k), dict)]
    if missing_sections:
        _fail(f"{path}: not a so-vits-svc config: missing section(s) {', '.join(missing_sections)} (found: {', '.join(sorted(config)) or 'nothing'})",
              "use the config.json written by so-vits-svc's preprocess_flist_config.py next to the G_*.pth")
    unknown_top = sorted(set(config) - KNOWN_TOP_KEYS)
    model = config["model"]
    data = config["data"]
    notes = []
    if "type_" in model:
        if model["type_"] != "hifi-gan":
            raise SvcPyError("MODEL_UNSUPPORTED", f"{path}: model.type_ '{model['type_']}' is so-vits-svc-fork's "
                             f"{'QuickVC (multi-stream iSTFT) generator' if model['type_'] == 'ms-istft' else 'generator variant'}, which svc does not run",
                             "svc runs so-vits-svc-fork models with type_ \"hifi-gan\" (its so-vits-svc-4.0v1 templates) and upstream 4.0/4.1 models")
        notes.append("so-vits-svc-fork config (model.type_ hifi-gan = the So-VITS 4.0 generator)")
    if "pretrained" in model:
        notes.append("model.pretrained (so-vits-svc-fork's base-checkpoint URLs) ignored: nothing is downloaded")
    missing = [f"model.{k}" for k in REQUIRED_MODEL_KEYS if k not in model]
    missing += [f"data.{k}" for k in REQUIRED_DATA_KEYS if k not in data]
    unknown = [f"model.{k}" for k in sorted(set(model) - KNOWN_MODEL_KEYS)]
    unknown += [f"data.{k}" for k in sorted(set(data) - KNOWN_DATA_KEYS)]
    unknown += unknown_top
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing key(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown key(s): {', '.join(unknown)}")
        _fail(f"{path}: {'; '.join(parts)}",
              "use the config.json from so-vits-svc 4.0 or 4.1 (configs_template/config_template.json lists every key)")

    version = "4.1" if any(k in model for k in KEYS_41) else "4.0"
    normalized = copy.deepcopy(config)
    m = normalized["model"]
    if version == "4.1":
        for key, value in DEFAULTS_41.items():
            m.setdefault(key, value)
    ssl_dim = int(m["ssl_dim"])
    encoder = m.get("speech_encoder")
    if encoder is None:
        # 4.0 used ContentVec layer 9 with final_proj (256-d); 768-d 4.0 forks used layer 12.
        encoder = "vec256l9" if ssl_dim == 256 else "vec768l12"
    if encoder not in SPEECH_ENCODERS:
        _fail(f"{path}: model.speech_encoder '{encoder}' is not a so-vits-svc encoder name (expected one of {', '.join(sorted(SPEECH_ENCODERS))})")
    if SPEECH_ENCODERS[encoder] != ssl_dim:
        _fail(f"{path}: model.ssl_dim is {ssl_dim} but speech_encoder '{encoder}' gives {SPEECH_ENCODERS[encoder]}-d features",
              "fix ssl_dim or speech_encoder so they agree")
    for key in UNSUPPORTED_IF_TRUE:
        if m.get(key):
            raise SvcPyError("MODEL_UNSUPPORTED", f"{path}: model.{key}=true is not supported", f"train with {key}=false")
    if version == "4.1":
        if m.get("use_transformer_flow"):
            raise SvcPyError("MODEL_UNSUPPORTED", f"{path}: model.use_transformer_flow=true is so-vits-svc 4.1's VITS2 transformer flow, which svc does not run; only the residual coupling flow is",
                             "use a model trained with use_transformer_flow=false (the 4.1 default), or convert with upstream")
        if m.get("vocoder_name") != "nsf-hifigan":
            raise SvcPyError("MODEL_UNSUPPORTED", f"{path}: model.vocoder_name '{m.get('vocoder_name')}' (the NSF-HiFiGAN with Snake activations) is not supported; only nsf-hifigan is",
                             "use a model trained with vocoder_name \"nsf-hifigan\" (the 4.1 default template)")
    hop = int(data["hop_length"])
    product = 1
    for rate in m["upsample_rates"]:
        product *= int(rate)
    if product != hop:
        _fail(f"{path}: the product of model.upsample_rates {m['upsample_rates']} is {product} but data.hop_length is {hop}",
              "the decoder must upsample one frame to exactly hop_length samples")
    if len(m["upsample_rates"]) != len(m["upsample_kernel_sizes"]):
        _fail(f"{path}: model.upsample_rates has {len(m['upsample_rates'])} entries but upsample_kernel_sizes has {len(m['upsample_kernel_sizes'])}")
    if int(m["inter_channels"]) % 2:
        _fail(f"{path}: model.inter_channels must be even (the flow splits it in halves), found {m['inter_channels']}")
    if int(m["hidden_channels"]) % int(m["n_heads"]):
        _fail(f"{path}: model.hidden_channels {m['hidden_channels']} is not divisible by n_heads {m['n_heads']}")
    spk = normalized.get("spk") or {}
    if not isinstance(spk, dict):
        _fail(f"{path}: spk must map speaker names to ids, found {type(spk).__name__}")
    for name, sid in spk.items():
        if not isinstance(sid, int) or sid < 0 or sid >= int(m["n_speakers"]):
            _fail(f"{path}: spk['{name}'] = {sid!r} is not an id in 0..{int(m['n_speakers']) - 1} (model.n_speakers)")
    normalized["spk"] = spk
    normalized.setdefault("train", {})
    normalized["train"].setdefault("segment_size", 10240)
    normalized["version"] = version
    normalized["speech_encoder"] = encoder
    normalized["notes"] = notes
    return normalized


def model_kwargs(config):
    """Arguments for SynthesizerTrn, as upstream builds them:
    SynthesizerTrn(filter_length // 2 + 1, segment_size // hop_length, **model)."""
    data = config["data"]
    kwargs = {k: v for k, v in config["model"].items() if k not in IGNORED_MODEL_KEYS}
    kwargs["spec_channels"] = int(data["filter_length"]) // 2 + 1
    kwargs["segment_size"] = int(config["train"]["segment_size"]) // int(data["hop_length"])
    kwargs["sampling_rate"] = int(data["sampling_rate"])
    kwargs.pop("speech_encoder", None)
    kwargs.pop("speaker_embedding", None)
    for key in FORK_MODEL_KEYS:
        kwargs.pop(key, None)
    return kwargs
