"""Reading so-vits-svc generator checkpoints (G_*.pth: {'model': state_dict, 'iteration',
'optimizer', 'learning_rate'}) and checking them against a config before anything is built, so
a mismatch is reported as names and shapes instead of a PyTorch traceback."""

import torch

from ..checkpoint_io import mismatch_details, read_torch_file, shape_of as _shape, state_dict_mismatch
from ..events import SvcPyError


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def _unsupported(message, hint):
    raise SvcPyError("MODEL_UNSUPPORTED", message, hint)


def identify_other_checkpoint(path, data):
    """Names checkpoints of other kinds users keep next to G_*.pth (or confuse with it), so the
    error says what the file is and where it goes instead of listing keys."""
    if not isinstance(data, dict):
        return
    if isinstance(data.get("weight"), dict) and ("config" in data or "sr" in data):
        details = ", ".join(f"{k} {data[k]}" for k in ("version", "sr", "f0") if k in data)
        _unsupported(f"{path} is an RVC (Retrieval-based Voice Conversion) model ({details or 'weight/config layout'}), not a so-vits-svc checkpoint",
                     "import it with `svc import-rvc` (with its .index); for so-vits-svc pass G_<step>.pth")
    if "cfg" in data or "args" in data:
        raise SvcPyError("MODEL_INVALID", f"{path} is a fairseq content encoder (HuBERT/ContentVec), not a so-vits-svc generator",
                         "pass it as --encoder (it is converted to encoder.onnx), or convert it alone with `svc import-encoder`")
    state = data.get("model") if isinstance(data.get("model"), dict) else data
    keys = [str(k) for k in state] if isinstance(state, dict) else []
    if any(k.startswith(("unit_embed", "decoder.denoise_fn", "naive_fn", "decoder.spec")) for k in keys) or "global_step" in data and any(k.startswith("decoder.") for k in keys):
        _unsupported(f"{path} is a so-vits-svc shallow-diffusion model (logs/44k/diffusion/model_*.pt); svc does not run the diffusion stage",
                     "import the generator G_<step>.pth alone: svc converts with the So-VITS generator (upstream's output without --shallow_diffusion)")
    if keys and all(isinstance(v, dict) and "cluster_centers_" in v for v in data.values()):
        raise SvcPyError("MODEL_INVALID", f"{path} is a so-vits-svc cluster model (kmeans per speaker), not the generator",
                         "import the generator G_<step>.pth and pass this file as --cluster")
    if any(k.startswith(("feature_extractor.conv", "encoder.layers.")) for k in keys) and not any(k.startswith(("enc_p.", "dec.")) for k in keys):
        raise SvcPyError("MODEL_INVALID", f"{path} is a content encoder (soft-VC HuBERT-Soft or HuBERT), not a so-vits-svc generator",
                         "pass it as --encoder, or convert it alone with `svc import-encoder`")


def load_checkpoint_file(path, info=None):
    """-> (state_dict of float32 tensors, iteration or None). The file is read as data only
    (safe_pickle; objects of unknown classes are never built). `info`, if given, receives
    `dtypes` (the weights' dtypes as stored, e.g. float16 for a _half release)."""
    data = read_torch_file(path, "checkpoint", "pass a so-vits-svc generator checkpoint G_<step>.pth from its logs/44k folder (a PyTorch file holding {'model': state_dict, ...})",
                           objects_as_data=True, noun="checkpoint")
    identify_other_checkpoint(path, data)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        state = data["model"]
        iteration = data.get("iteration")
    elif isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        state = data  # a bare state dict
        iteration = None
    else:
        found = ", ".join(sorted(map(str, data.keys()))[:8]) if isinstance(data, dict) else type(data).__name__
        _fail(f"{path} is a PyTorch file but not a so-vits-svc checkpoint: expected a dict with 'model' (the generator's state dict), found {found}",
              "pass G_<step>.pth, not a HuBERT/ContentVec, diffusion or cluster model")
    if any(k.startswith("discriminators.") for k in state):
        _fail(f"{path} is a so-vits-svc discriminator checkpoint (keys discriminators.*), not the generator",
              "pass the G_<step>.pth file with the same step, not D_<step>.pth")
    if not any(k.startswith(("enc_p.", "dec.", "emb_g.")) for k in state):
        sample = ", ".join(list(state)[:5])
        _fail(f"{path} holds a state dict, but not a so-vits-svc generator's (no enc_p./dec./emb_g. keys; first keys: {sample})",
              "pass a so-vits-svc 4.0/4.1 generator checkpoint G_<step>.pth")
    if info is not None:
        info["dtypes"] = sorted({str(v.dtype).replace("torch.", "") for v in state.values() if isinstance(v, torch.Tensor)})
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    return state, iteration


# Weights inference never reads: the posterior encoder (training only; upstream's compress_model.py
# drops it from release checkpoints) and the f0 predictor (only with auto-f0, which svc does not use).
UNUSED_AT_INFERENCE = ("enc_q.", "f0_decoder.")


def check_state_dict(state, expected, config, allow_absent_unused=False):
    """Compares checkpoint keys/shapes with the model built from the config; raises one error
    that names the likely cause (version, encoder width, vol embedding, ...) and lists the keys.
    With allow_absent_unused, keys of UNUSED_AT_INFERENCE modules may be missing as a whole
    module (a release checkpoint); returns those absent keys."""
    model = config["model"]
    absent = []
    if allow_absent_unused:
        for prefix in UNUSED_AT_INFERENCE:
            module_keys = [k for k in expected if k.startswith(prefix)]
            if module_keys and not any(k.startswith(prefix) for k in state):
                absent += module_keys
    missing, unexpected, differ = state_dict_mismatch(state, expected, skip=set(absent))
    if not (missing or unexpected or differ):
        return absent
    causes = []
    # A module missing as a whole is its own cause; depthwise/shared-flow guesses look only at
    # modules the checkpoint does have (a checkpoint without enc_q is not a depthwise mismatch).
    whole = [p for p in UNUSED_AT_INFERENCE if any(k.startswith(p) for k in missing) and not any(k.startswith(p) for k in state)]
    partial_missing = [k for k in missing if not k.startswith(tuple(whole))]
    if "pre.weight" in state and "pre.weight" in expected and _shape(state["pre.weight"]) != _shape(expected["pre.weight"]):
        width = _shape(state["pre.weight"])[1]
        guess = {256: "so-vits-svc 4.0 (or 4.1 with vec256l9/hubertsoft)", 768: "so-vits-svc 4.1 with vec768l12 (or another 768-d encoder)"}.get(width, f"a model with {width}-d content features")
        causes.append(f"the checkpoint takes {width}-d content features ({guess}) but the config is {config['version']} with ssl_dim {model['ssl_dim']} ({config['speech_encoder']})")
    if "emb_vol.weight" in expected and "emb_vol.weight" not in state:
        causes.append("the config has vol_embedding=true but the checkpoint was trained without the volume embedding")
    if "emb_vol.weight" in state and "emb_vol.weight" not in expected:
        causes.append("the checkpoint has a volume embedding (4.1 vol_embedding=true) but the config does not")
    if "enc_q." in whole:
        causes.append("the checkpoint has no posterior encoder enc_q.* (a release checkpoint from compress_model.py; inference does not need it)")
    if "f0_decoder." in whole:
        causes.append("the config expects the automatic f0 predictor but the checkpoint has none (use_automatic_f0_prediction=false)")
    if any(k.startswith("f0_decoder.") for k in unexpected):
        causes.append("the checkpoint has an f0 predictor (f0_decoder.*) but the config sets use_automatic_f0_prediction=false")
    if any(".depth_conv." in k for k in unexpected) or any(".depth_conv." in k for k in partial_missing):
        causes.append("use_depthwise_conv differs between checkpoint and config")
    if any(k.startswith("flow.wn.") for k in unexpected + partial_missing):
        causes.append("flow_share_parameter differs between checkpoint and config")
    if "emb_g.weight" in state and "emb_g.weight" in expected and _shape(state["emb_g.weight"])[0] != _shape(expected["emb_g.weight"])[0]:
        causes.append(f"the checkpoint has {_shape(state['emb_g.weight'])[0]} speaker slots, the config's n_speakers is {model['n_speakers']}")
    details = mismatch_details(missing, unexpected, differ)
    cause = ("; ".join(causes) + ". ") if causes else ""
    only_release = whole == ["enc_q."] and not (unexpected or differ or partial_missing)
    _fail(f"checkpoint does not match the config: {cause}{' | '.join(details)}",
          "`svc import-sovits` accepts release checkpoints without enc_q" if only_release else
          "pass the config.json that was trained together with this checkpoint (same so-vits-svc version and encoder)")


def save_upstream_checkpoint(net, path, iteration=0, learning_rate=1e-4):
    """Writes a checkpoint in upstream's G_*.pth layout (for tests and exports to so-vits-svc)."""
    torch.save({"model": net.state_dict(), "iteration": iteration, "optimizer": None, "learning_rate": learning_rate}, path)
