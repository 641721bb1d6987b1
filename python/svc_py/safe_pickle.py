"""A pickle module for torch.load(pickle_module=...) that only rebuilds tensors and plain
containers: a checkpoint is data, and a hostile .pth must not run code. (torch 1.13's own
weights_only loader rejects floats, which every so-vits-svc checkpoint holds.)"""
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


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only tensors and plain data are read from checkpoints")
        return found


def load(file, **kwargs):
    return Unpickler(file, **kwargs).load()


def load_torch_file(path):
    """torch.load for zip-format checkpoints through this module's Unpickler. (torch 1.13's
    torch.load ignores pickle_module unless weights_only, so the private _load is called.)"""
    from torch import serialization
    with open(path, "rb") as handle:
        if not serialization._is_zipfile(handle):
            raise pickle.UnpicklingError("not a zip-format PyTorch file (torch.save since 1.6 writes zip files)")
    with serialization._open_zipfile_reader(path) as reader:
        return serialization._load(reader, "cpu", __import__(__name__, fromlist=["Unpickler"]), encoding="utf-8")
