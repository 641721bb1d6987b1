"""Reading so-vits-svc generator checkpoints (G_*.pth: {'model': state_dict, 'iteration',
'optimizer', 'learning_rate'}) and checking them against a config before anything is built, so
a mismatch is reported as names and shapes instead of a PyTorch traceback."""
import os

import torch

from .. import safe_pickle
from ..events import SvcPyError


def _fail(message, hint=None):
    raise SvcPyError("MODEL_INVALID", message, hint)


def load_checkpoint_file(path):
    """-> (state_dict of float32 tensors, iteration or None). Uses weights_only loading: a
    checkpoint is data, never code."""
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"checkpoint not found: {path}", "pass the generator checkpoint G_<step>.pth from so-vits-svc's logs/44k folder")
    if os.path.getsize(path) == 0:
        raise SvcPyError("FILE_EMPTY", f"checkpoint {path} is empty (0 bytes)", "copy the G_<step>.pth again")
    try:
        data = safe_pickle.load_torch_file(path)
    except Exception as error:  # not a zip/pickle file, or pickled code objects
        first = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        _fail(f"{path} is not a PyTorch checkpoint that can be read as data ({first})",
              "pass a so-vits-svc generator checkpoint G_<step>.pth (a PyTorch file holding {'model': state_dict, ...})")
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
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    return state, iteration


def _shape(t):
    return list(t.shape)


def check_state_dict(state, expected, config):
    """Compares checkpoint keys/shapes with the model built from the config; raises one error
    that names the likely cause (version, encoder width, vol embedding, ...) and lists the keys."""
    model = config["model"]
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    differ = [(k, _shape(state[k]), _shape(expected[k])) for k in expected if k in state and _shape(state[k]) != _shape(expected[k])]
    if not (missing or unexpected or differ):
        return
    causes = []
    if "pre.weight" in state and "pre.weight" in expected and _shape(state["pre.weight"]) != _shape(expected["pre.weight"]):
        width = _shape(state["pre.weight"])[1]
        guess = {256: "so-vits-svc 4.0 (or 4.1 with vec256l9/hubertsoft)", 768: "so-vits-svc 4.1 with vec768l12 (or another 768-d encoder)"}.get(width, f"a model with {width}-d content features")
        causes.append(f"the checkpoint takes {width}-d content features ({guess}) but the config is {config['version']} with ssl_dim {model['ssl_dim']} ({config['speech_encoder']})")
    if "emb_vol.weight" in expected and "emb_vol.weight" not in state:
        causes.append("the config has vol_embedding=true but the checkpoint was trained without the volume embedding")
    if "emb_vol.weight" in state and "emb_vol.weight" not in expected:
        causes.append("the checkpoint has a volume embedding (4.1 vol_embedding=true) but the config does not")
    if any(k.startswith("f0_decoder.") for k in missing):
        causes.append("the config expects the automatic f0 predictor but the checkpoint has none (use_automatic_f0_prediction=false)")
    if any(k.startswith("f0_decoder.") for k in unexpected):
        causes.append("the checkpoint has an f0 predictor (f0_decoder.*) but the config sets use_automatic_f0_prediction=false")
    if any(".depth_conv." in k for k in unexpected) or any(".depth_conv." in k for k in missing):
        causes.append("use_depthwise_conv differs between checkpoint and config")
    if any(k.startswith("flow.wn.") for k in unexpected + missing):
        causes.append("flow_share_parameter differs between checkpoint and config")
    if "emb_g.weight" in state and "emb_g.weight" in expected and _shape(state["emb_g.weight"])[0] != _shape(expected["emb_g.weight"])[0]:
        causes.append(f"the checkpoint has {_shape(state['emb_g.weight'])[0]} speaker slots, the config's n_speakers is {model['n_speakers']}")
    details = []
    if missing:
        details.append(f"missing keys ({len(missing)}): {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        details.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
    if differ:
        shown = "; ".join(f"{k} checkpoint {a} vs config {b}" for k, a, b in differ[:4])
        details.append(f"shapes differ ({len(differ)}): {shown}{' ...' if len(differ) > 4 else ''}")
    cause = ("; ".join(causes) + ". ") if causes else ""
    _fail(f"checkpoint does not match the config: {cause}{' | '.join(details)}",
          "pass the config.json that was trained together with this checkpoint (same so-vits-svc version and encoder)")


def save_upstream_checkpoint(net, path, iteration=0, learning_rate=1e-4):
    """Writes a checkpoint in upstream's G_*.pth layout (for tests and exports to so-vits-svc)."""
    torch.save({"model": net.state_dict(), "iteration": iteration, "optimizer": None, "learning_rate": learning_rate}, path)
