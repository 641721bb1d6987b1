"""Reading a PyTorch checkpoint as data and comparing its state dict with the model's: shared by the
So-VITS (sovits/checkpoint.py) and RVC (rvc/checkpoint.py) importers, which add their own diagnosis."""
import os

from . import safe_pickle
from .events import SvcPyError


def read_torch_file(path, what, hint, objects_as_data=False, noun="file"):
    """The file's pickled content, read as data only (safe_pickle: objects of unknown classes are never
    built). `what` names the file in messages ("checkpoint", "RVC model"), `noun` what it failed to be
    ("is not a PyTorch <noun> that can be read as data"); `hint` says what to pass."""
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"{what} not found: {path}", hint)
    if os.path.getsize(path) == 0:
        raise SvcPyError("FILE_EMPTY", f"{what} {path} is empty (0 bytes)", "copy the file again")
    try:
        return safe_pickle.load_torch_file(path, objects_as_data=objects_as_data)
    except Exception as error:  # not a zip/pickle file, or pickled code objects
        first = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise SvcPyError("MODEL_INVALID", f"{path} is not a PyTorch {noun} that can be read as data ({first})", hint)


def shape_of(tensor):
    return list(tensor.shape)


def state_dict_mismatch(state, expected, skip=()):
    """-> (missing, unexpected, differ): keys of `expected` absent from `state` (but those in `skip`),
    keys of `state` the model lacks, and (key, file shape, model shape) where both have the key."""
    missing = [k for k in expected if k not in state and k not in skip]
    unexpected = [k for k in state if k not in expected]
    differ = [(k, shape_of(state[k]), shape_of(expected[k])) for k in expected if k in state and shape_of(state[k]) != shape_of(expected[k])]
    return missing, unexpected, differ


def mismatch_details(missing, unexpected, differ, source="checkpoint"):
    """The mismatch as message parts: counts and the first few keys of each kind."""
    details = []
    if missing:
        details.append(f"missing keys ({len(missing)}): {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if unexpected:
        details.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:6])}{' ...' if len(unexpected) > 6 else ''}")
    if differ:
        shown = "; ".join(f"{k} {source} {a} vs config {b}" for k, a, b in differ[:4])
        details.append(f"shapes differ ({len(differ)}): {shown}{' ...' if len(differ) > 4 else ''}")
    return details
