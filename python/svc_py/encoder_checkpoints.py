"""Content-encoder checkpoints users have, read as data and rebuilt as torchaudio's Wav2Vec2Model:

- fairseq HuBERT / ContentVec (`hubert_base.pt`, `checkpoint_best_legacy_500.pt`): {'cfg' | 'args',
  'model': state dict, 'task_state', ...}. The config is an omegaconf DictConfig or an
  argparse.Namespace in the pickle; safe_pickle turns both into plain dicts, nothing is imported.
- soft-VC HuBERT-Soft (`hubert-soft-0d54a1f4.pt`): a bare state dict (keys maybe prefixed
  `module.`) or {'hubert': state dict, ...}; the architecture is HuBERT base, hard-coded upstream.

Both are HuBERT-base-shaped networks (conv front end -> feature projection -> positional conv ->
post-norm transformer), which is exactly torchaudio.models.wav2vec2_model; only the key names
differ. `speech_encoder` names choose the output (so-vits-svc's vencoder/*.py):

  vec768l12  fairseq extract_features(output_layer=12)                       [1, T, 768]
  vec256l9   final_proj(extract_features(output_layer=9))                     [1, T, 256]
  vec768l9   extract_features(output_layer=9)                                 [1, T, 768]
  vec256l12  final_proj(extract_features(output_layer=12))                    [1, T, 256]
  hubertsoft proj(all transformer layers)   (soft-VC HubertSoft.units)        [1, T, 256]

T = floor((N - 400) / 320) + 1 for N input samples at 16 kHz. soft-VC's units() pads 40 samples
at each end of a whole file first; the exported graph does not (every svc encoder has HuBERT's
framing, so streaming can cut windows anywhere), so its rows sit 2.5 ms later than upstream's."""
import ast
import re

import torch
from torch import nn

from . import safe_pickle
from .events import SvcPyError

# speech_encoder name -> (source family, transformer layers to run (None = all), projection or None)
ENCODER_OUTPUTS = {
    "vec768l12": ("fairseq", 12, None),
    "vec256l9": ("fairseq", 9, "final_proj"),
    "vec768l9": ("fairseq", 9, None),
    "vec256l12": ("fairseq", 12, "final_proj"),
    "hubertsoft": ("softvc", None, "proj"),
}
# so-vits-svc's *-onnx names mean the same features.
ENCODER_ALIASES = {"vec768l12-onnx": "vec768l12", "vec256l9-onnx": "vec256l9", "vec768l9-onnx": "vec768l9",
                   "vec256l12-onnx": "vec256l12", "hubertsoft-onnx": "hubertsoft"}
UNSUPPORTED_ENCODERS = {
    "whisper-ppg": "a Whisper encoder (OpenAI's whisper medium .pt)",
    "whisper-ppg-large": "a Whisper encoder (OpenAI's whisper large-v2 .pt)",
    "cnhubertlarge": "chinese-hubert-large (a HuggingFace transformers checkpoint)",
    "dphubert": "DPHuBERT (a pruned HuBERT with its own layout)",
    "wavlmbase+": "WavLM Base+ (relative-position attention, a different network)",
}
SOFTVC_HEAD_WIDTH = 64  # soft-VC: nn.TransformerEncoderLayer(768, 12 heads, 3072) -> 64 per head


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def canonical_encoder_name(name):
    name = ENCODER_ALIASES.get(name, name)
    if name in UNSUPPORTED_ENCODERS:
        raise SvcPyError("MODEL_UNSUPPORTED", f"speech_encoder '{name}' is {UNSUPPORTED_ENCODERS[name]}; svc cannot convert its checkpoint yet",
                         "export it to ONNX with so-vits-svc's own tools and pass the .onnx (source [1,1,N] -> embed [1,T,D]), or use a model trained with vec768l12/vec256l9/hubertsoft")
    if name not in ENCODER_OUTPUTS:
        raise SvcPyError("INVALID_ARGUMENT", f"unknown speech encoder name '{name}'",
                         f"use one of: {', '.join(list(ENCODER_OUTPUTS) + list(ENCODER_ALIASES))}")
    return name


def parse_conv_layers(text):
    """fairseq's conv_feature_layers string, e.g. "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2",
    which fairseq eval()s; here only list literals, + and * by an integer are accepted."""
    layers = []
    for term in str(text).split("+"):
        match = re.fullmatch(r"\s*(\[.*\])\s*(?:\*\s*(\d+))?\s*", term)
        if not match:
            _fail(f"conv_feature_layers '{text}' is not a list expression of (dim, kernel, stride) tuples")
        try:
            value = ast.literal_eval(match.group(1))
        except (ValueError, SyntaxError):
            _fail(f"conv_feature_layers '{text}' is not a list expression of (dim, kernel, stride) tuples")
        layers += [tuple(int(v) for v in layer) for layer in value] * int(match.group(2) or 1)
    return layers


def _section(cfg, name):
    value = cfg.get(name) if isinstance(cfg, dict) else None
    return value if isinstance(value, dict) else {}


def fairseq_settings(checkpoint):
    """Model settings from a fairseq checkpoint's cfg (hydra era) or args (argparse era), as plain data."""
    cfg = checkpoint.get("cfg")
    args = checkpoint.get("args")
    if isinstance(cfg, dict) and cfg.get("model"):
        model, task = _section(cfg, "model"), _section(cfg, "task")
    elif isinstance(args, dict):
        model, task = args, args  # argparse.Namespace: one flat namespace
    else:
        _fail("the fairseq checkpoint has neither cfg.model nor args: cannot tell its architecture")
    name = model.get("_name") or model.get("arch") or "hubert"
    if not str(name).startswith(("hubert", "contentvec")):
        _fail(f"the fairseq checkpoint is a '{name}' model, not HuBERT/ContentVec",
              "pass a HuBERT or ContentVec checkpoint (hubert_base.pt, checkpoint_best_legacy_500.pt)")
    layer_norm_first = bool(model.get("layer_norm_first", False))
    return {
        "extractor_mode": "layer_norm" if model.get("extractor_mode", "default") == "layer_norm" else "group_norm",
        "extractor_conv_layer_config": parse_conv_layers(model.get("conv_feature_layers", "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2")),
        "extractor_conv_bias": bool(model.get("conv_bias", False)),
        "encoder_embed_dim": int(model.get("encoder_embed_dim", 768)),
        "encoder_pos_conv_kernel": int(model.get("conv_pos", 128)),
        "encoder_pos_conv_groups": int(model.get("conv_pos_groups", 16)),
        "encoder_num_layers": int(model.get("encoder_layers", 12)),
        "encoder_num_heads": int(model.get("encoder_attention_heads", 12)),
        "encoder_ff_interm_features": int(model.get("encoder_ffn_embed_dim", 3072)),
        "encoder_layer_norm_first": layer_norm_first,
        "normalize_waveform": bool(task.get("normalize", False)),
    }


def softvc_settings(state):
    """soft-VC hard-codes HuBERT base; widths are read from the weights so tiny fixtures work too."""
    dim = int(state["feature_projection.projection.weight"].shape[0])
    conv_dim = int(state["feature_extractor.conv0.weight"].shape[0])
    layers = 1 + max(int(m.group(1)) for m in (re.match(r"encoder\.layers\.(\d+)\.", k) for k in state) if m)
    kernel = int(state["positional_embedding.conv.weight_v"].shape[2])
    groups = dim // int(state["positional_embedding.conv.weight_v"].shape[1])
    return {
        "extractor_mode": "group_norm",
        "extractor_conv_layer_config": [(conv_dim, 10, 5)] + [(conv_dim, 3, 2)] * 4 + [(conv_dim, 2, 2)] * 2,
        "extractor_conv_bias": False,
        "encoder_embed_dim": dim,
        "encoder_pos_conv_kernel": kernel,
        "encoder_pos_conv_groups": groups,
        "encoder_num_layers": layers,
        "encoder_num_heads": max(1, dim // SOFTVC_HEAD_WIDTH),
        "encoder_ff_interm_features": int(state["encoder.layers.0.linear1.weight"].shape[0]),
        "encoder_layer_norm_first": False,
        "normalize_waveform": False,
    }


SOFTVC_KEY_MAP = [
    (r"feature_extractor\.conv(\d+)\.weight", r"feature_extractor.conv_layers.\1.conv.weight"),
    (r"feature_extractor\.norm0\.(weight|bias)", r"feature_extractor.conv_layers.0.layer_norm.\1"),
    (r"feature_projection\.norm\.(weight|bias)", r"encoder.feature_projection.layer_norm.\1"),
    (r"feature_projection\.projection\.(weight|bias)", r"encoder.feature_projection.projection.\1"),
    (r"positional_embedding\.conv\.(weight_g|weight_v|bias)", r"encoder.transformer.pos_conv_embed.conv.\1"),
    (r"norm\.(weight|bias)", r"encoder.transformer.layer_norm.\1"),
    (r"encoder\.layers\.(\d+)\.self_attn\.out_proj\.(weight|bias)", r"encoder.transformer.layers.\1.attention.out_proj.\2"),
    (r"encoder\.layers\.(\d+)\.linear1\.(weight|bias)", r"encoder.transformer.layers.\1.feed_forward.intermediate_dense.\2"),
    (r"encoder\.layers\.(\d+)\.linear2\.(weight|bias)", r"encoder.transformer.layers.\1.feed_forward.output_dense.\2"),
    (r"encoder\.layers\.(\d+)\.norm1\.(weight|bias)", r"encoder.transformer.layers.\1.layer_norm.\2"),
    (r"encoder\.layers\.(\d+)\.norm2\.(weight|bias)", r"encoder.transformer.layers.\1.final_layer_norm.\2"),
]
SOFTVC_UNUSED = ("masked_spec_embed", "label_embedding.weight")


def convert_softvc_state(state):
    """soft-VC keys -> torchaudio Wav2Vec2Model keys; nn.MultiheadAttention's packed in_proj is split
    into q/k/v (rows 0..D-1 are q, then k, then v)."""
    converted, projection = {}, {}
    for key, value in state.items():
        packed = re.fullmatch(r"encoder\.layers\.(\d+)\.self_attn\.in_proj_(weight|bias)", key)
        if packed:
            for name, part in zip(("q", "k", "v"), value.chunk(3, dim=0)):
                converted[f"encoder.transformer.layers.{packed.group(1)}.attention.{name}_proj.{packed.group(2)}"] = part
            continue
        if key.startswith("proj."):
            projection[key[len("proj."):]] = value
            continue
        if key in SOFTVC_UNUSED:
            continue
        for pattern, replacement in SOFTVC_KEY_MAP:
            if re.fullmatch(pattern, key):
                converted[re.sub(pattern, replacement, key)] = value
                break
        else:
            _fail(f"unexpected key '{key}' in the soft-VC checkpoint", "pass soft-VC's hubert-soft-*.pt (github.com/bshall/hubert)")
    return converted, projection


def convert_fairseq_state(state):
    from torchaudio.models.wav2vec2.utils.import_fairseq import _convert_state_dict
    projection = {k[len("final_proj."):]: v for k, v in state.items() if k.startswith("final_proj.")}
    kept = {k: v for k, v in state.items() if not k.startswith(("final_proj.", "label_embs_concat", "mask_emb"))}
    try:
        return _convert_state_dict(kept), projection
    except ValueError as error:
        _fail(f"the fairseq checkpoint has a key svc does not know: {error}", "pass a HuBERT/ContentVec base or large checkpoint")


class ContentEncoder(nn.Module):
    """source [B, 1, N] (16 kHz) -> embed [B, T, D]: the output of the first `layers` transformer
    layers, optionally projected (ContentVec final_proj / soft-VC proj)."""

    def __init__(self, settings, layers, projection_state):
        super().__init__()
        from torchaudio.models import wav2vec2_model
        kwargs = {k: v for k, v in settings.items() if k != "normalize_waveform"}
        self.model = wav2vec2_model(**kwargs, encoder_projection_dropout=0.0, encoder_attention_dropout=0.0,
                                    encoder_ff_interm_dropout=0.0, encoder_dropout=0.0, encoder_layer_drop=0.0, aux_num_out=None)
        self.layers = layers or settings["encoder_num_layers"]
        self.normalize_waveform = settings["normalize_waveform"]
        self.projection = None
        if projection_state:
            weight = projection_state["weight"]
            self.projection = nn.Linear(weight.shape[1], weight.shape[0])
            self.projection.load_state_dict(projection_state)

    def forward(self, source):
        audio = source.squeeze(1)
        if self.normalize_waveform:  # fairseq task.normalize: zero mean, unit variance per utterance
            audio = nn.functional.layer_norm(audio, audio.shape[-1:])
        features, _ = self.model.extract_features(audio, num_layers=self.layers)
        hidden = features[-1]
        return self.projection(hidden) if self.projection is not None else hidden


def read_encoder_checkpoint(path):
    """-> ('fairseq' | 'softvc', settings, state dict, projection state or {}, summary of what the file held)."""
    try:
        data = safe_pickle.load_torch_file(path, objects_as_data=True)
    except Exception as error:
        first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        _fail(f"{path} cannot be read as a PyTorch checkpoint of data ({first})",
              "pass a fairseq HuBERT/ContentVec .pt or soft-VC's hubert-soft-*.pt")
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and ("cfg" in data or "args" in data):
        state = {k: v for k, v in data["model"].items() if isinstance(v, torch.Tensor)}
        settings = fairseq_settings(data)
        converted, projection = convert_fairseq_state(state)
        return "fairseq", settings, converted, projection, {"format": "fairseq", "config_from": "cfg" if isinstance(data.get("cfg"), dict) and data["cfg"].get("model") else "args"}
    if isinstance(data, dict) and isinstance(data.get("hubert"), dict):
        data = data["hubert"]
    if isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in data.items()}
        if "feature_extractor.conv0.weight" in state and "proj.weight" in state:
            converted, projection = convert_softvc_state(state)
            return "softvc", softvc_settings(state), converted, projection, {"format": "softvc"}
        sample = ", ".join(list(state)[:5])
        _fail(f"{path} holds a state dict but not a HuBERT content encoder's (first keys: {sample})",
              "pass a fairseq HuBERT/ContentVec .pt or soft-VC's hubert-soft-*.pt")
    found = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
    _fail(f"{path} is not a content-encoder checkpoint (found {found})", "pass a fairseq HuBERT/ContentVec .pt or soft-VC's hubert-soft-*.pt")


def build_content_encoder(path, speech_encoder):
    """-> (ContentEncoder in eval mode, description dict). Refuses a name that needs another family
    (hubertsoft from a fairseq file, vec* from soft-VC) or a projection the file lacks."""
    name = canonical_encoder_name(speech_encoder)
    family, layers, projection_name = ENCODER_OUTPUTS[name]
    found_family, settings, state, projection, summary = read_encoder_checkpoint(path)
    if found_family != family:
        what = {"fairseq": "a fairseq HuBERT/ContentVec checkpoint", "softvc": "a soft-VC HuBERT-Soft checkpoint"}
        _fail(f"--name {speech_encoder} needs {what[family]}, but {path} is {what[found_family]}",
              "hubertsoft comes from hubert-soft-*.pt; vec768l12/vec256l9 from ContentVec's checkpoint_best_legacy_500.pt")
    if layers is not None and layers > settings["encoder_num_layers"]:
        _fail(f"--name {speech_encoder} takes transformer layer {layers} but the checkpoint has {settings['encoder_num_layers']} layers")
    if projection_name and not projection:
        _fail(f"--name {speech_encoder} needs the projection {projection_name} but the checkpoint has none",
              "use vec768l12 (no projection) or the checkpoint the model was trained with")
    encoder = ContentEncoder(settings, layers, projection if projection_name else None)
    missing, unexpected = encoder.model.load_state_dict(state, strict=False)
    if missing or unexpected:
        _fail(f"the checkpoint does not fit a HuBERT-shaped network: missing {missing[:6]}, unexpected {unexpected[:6]}")
    encoder.eval()
    dim = projection["weight"].shape[0] if projection_name else settings["encoder_embed_dim"]
    return encoder, {**summary, "speech_encoder": name, "layer": encoder.layers, "projection": projection_name,
                     "dim": int(dim), "settings": {k: v for k, v in settings.items() if k != "extractor_conv_layer_config"}}


def seeded_state(names_and_shapes, seed=0):
    """Deterministic random weights for fixtures: the scratch builder (upstream classes) and the
    tests fill the same key list with the same values. Norm gains near 1 keep activations sane."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in names_and_shapes:
        values = torch.randn(*shape, generator=generator)
        if re.search(r"(norm\d*|layer_norm)\.weight$", name) or name.endswith("weight_g"):
            state[name] = 1.0 + 0.1 * values
        else:
            state[name] = 0.2 * values if len(shape) < 2 else values / max(1.0, float(shape[1] * (shape[2] if len(shape) > 2 else 1)) ** 0.5)
    return state
