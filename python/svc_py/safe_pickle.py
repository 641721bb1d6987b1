"""A pickle module for torch.load(pickle_module=...) that only rebuilds tensors and plain
containers: a checkpoint is data, and a hostile .pth must not run code. (torch 1.13's own
weights_only loader rejects floats, which every so-vits-svc checkpoint holds.)

Checkpoints written by fairseq (HuBERT, ContentVec) also pickle objects of classes svc never
imports: argparse.Namespace (old fairseq), omegaconf DictConfig/ListConfig and their nodes (hydra
fairseq), fairseq.data.dictionary.Dictionary (task_state), enums. With `objects_as_data=True`
those modules' globals resolve to PickledObject stand-ins that only record the constructor
arguments and state they were given (no code of theirs runs, nothing is imported); `plain()`
then turns the tree into dicts/lists/scalars (a DictConfig into its content, a Namespace into
its attributes). Any other global is still refused."""
import argparse
import collections
import pickle
from pickle import *  # noqa: F401,F403  (torch.load reads constants such as HIGHEST_PROTOCOL)

import torch

_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
}
for _name in ("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage", "IntStorage",
              "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"):
    _ALLOWED[("torch", _name)] = getattr(torch, _name)
for _name in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"):
    _ALLOWED[("torch", _name)] = getattr(torch, _name)

# Plain builtin containers/scalars a config may pickle by reference (e.g. omegaconf's object_type=dict).
_BUILTINS = {name: getattr(__import__("builtins"), name) for name in ("dict", "list", "tuple", "set", "frozenset", "int", "float", "str", "bool", "bytes", "object")}
_BUILTINS["long"] = int  # protocol-2 pickles name Python 2's __builtin__.long


def _codecs_encode(text, encoding="latin1"):
    """_codecs.encode, as protocol-2 pickles store bytes (e.g. numpy array data): text -> latin-1 bytes only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}: only latin-1 text becomes bytes")
    return text.encode("latin1")


def _defaultdict(factory=None):
    """collections.defaultdict(factory) read as a plain dict (its items follow as SETITEMS)."""
    return {}
# Modules whose classes become PickledObject stand-ins when objects_as_data is on.
# faiss: so-vits-svc's feature_and_index.pkl pickles faiss indexes as {"this": serialized index bytes}.
_DATA_MODULES = ("argparse", "omegaconf", "fairseq", "typing", "enum", "pathlib", "numpy", "copyreg", "faiss")


class PickledObject:
    """What the pickle said about an object of a class svc does not import: `module`, `name`,
    `args` (constructor/reduce arguments), `state` (BUILD/__setstate__), `items` (list/dict items)."""

    module = "?"
    name = "?"

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj.args, obj.state, obj.items = tuple(args), None, []
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def append(self, value):
        self.items.append(value)

    def extend(self, values):
        self.items.extend(values)

    def __setitem__(self, key, value):
        self.items.append((key, value))

    def __repr__(self):
        return f"<pickled {self.module}.{self.name}>"


_STAND_INS = {}


def _stand_in(module, name):
    key = (module, name)
    if key not in _STAND_INS:
        _STAND_INS[key] = type(name, (PickledObject,), {"module": module, "name": name})
    return _STAND_INS[key]


class Unpickler(pickle.Unpickler):
    objects_as_data = False

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if name == "DotDict":
            return dict  # DDSP-SVC / FCPE configs: a dict subclass that only adds attribute access
        if self.objects_as_data:
            if module in ("builtins", "__builtin__") and name in _BUILTINS:
                return _BUILTINS[name]
            if (module, name) == ("collections", "defaultdict"):
                return _defaultdict
            if (module, name) == ("_codecs", "encode"):
                return _codecs_encode
            if module.split(".")[0] in _DATA_MODULES:
                return _stand_in(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only tensors and plain data are read from checkpoints")


class DataUnpickler(Unpickler):
    objects_as_data = True


def load(file, **kwargs):
    return Unpickler(file, **kwargs).load()


def _state_dict(obj):
    state = obj.state
    if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)):
        merged = dict(state[0] or {})  # (dict state, slots state)
        merged.update(state[1] or {})
        return merged
    return state if isinstance(state, dict) else {}


def _numpy_array(value):
    """numpy's ndarray pickle (_reconstruct(ndarray, (0,), b'b') + BUILD (version, shape, dtype, fortran, raw))
    -> a numpy array built from the raw bytes; None when the state is not that."""
    state = value.state
    if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[4], (bytes, bytearray))):
        return None
    import numpy as np
    _, shape, dtype, fortran, raw = state
    if not (isinstance(dtype, PickledObject) and dtype.name == "dtype" and dtype.args and isinstance(dtype.args[0], str)):
        return None
    order = dtype.state[1] if isinstance(dtype.state, tuple) and len(dtype.state) > 1 and dtype.state[1] in "<>|=" else "="
    kind = np.dtype(dtype.args[0]).newbyteorder(order)
    if kind.hasobject:
        return None
    return np.frombuffer(bytes(raw), dtype=kind).reshape(tuple(shape), order="F" if fortran else "C").copy()


def plain(value):
    """PickledObject trees -> plain Python data (see the module docstring)."""
    if isinstance(value, PickledObject):
        full = f"{value.module}.{value.name}"
        if value.module.startswith("numpy") and value.name == "_reconstruct":
            array = _numpy_array(value)
            if array is not None:
                return array
        state = _state_dict(value)
        if value.module.startswith("omegaconf") and "_content" in state:
            content = state["_content"]
            if isinstance(content, dict):
                return {str(k): plain(v) for k, v in content.items()}
            if isinstance(content, (list, tuple)):
                return [plain(v) for v in content]
            return plain(content)  # None or a "???" marker
        if value.module.startswith("omegaconf") and "_val" in state:
            return plain(state["_val"])
        if full == "argparse.Namespace":
            return {k: plain(v) for k, v in state.items()}
        if value.module == "copyreg" and value.name == "_reconstructor" and value.args:
            inner = value.args[0]
            return {"__class__": f"{inner.module}.{inner.name}" if isinstance(inner, type) and issubclass(inner, PickledObject) else str(inner)}
        if value.args and not state and not value.items and len(value.args) == 1:
            return plain(value.args[0])  # an enum member (Enum(value)) or a wrapped scalar
        return {"__class__": full, **{k: plain(v) for k, v in state.items() if not str(k).startswith("_")}}
    if isinstance(value, argparse.Namespace):
        return {k: plain(v) for k, v in vars(value).items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, type):
        return f"{getattr(value, 'module', value.__module__)}.{getattr(value, 'name', value.__name__)}"
    return value


def load_torch_file(path, objects_as_data=False):
    """torch.load for zip-format checkpoints through this module's Unpickler. (torch 1.13's
    torch.load ignores pickle_module unless weights_only, so the private _load is called.) With
    objects_as_data, fairseq/omegaconf/argparse objects come back as plain data (plain())."""
    from torch import serialization
    with open(path, "rb") as handle:
        if not serialization._is_zipfile(handle):
            raise pickle.UnpicklingError("not a zip-format PyTorch file (torch.save since 1.6 writes zip files)")
    module = _DataPickleModule if objects_as_data else __import__(__name__, fromlist=["Unpickler"])
    with serialization._open_zipfile_reader(path) as reader:
        data = serialization._load(reader, "cpu", module, encoding="utf-8")
    return plain(data) if objects_as_data else data


class _DataPickleModule:
    """The pickle_module torch's _load gets for objects_as_data (it only reads .Unpickler)."""
    Unpickler = DataUnpickler
