"""Rebuilds the encoder checkpoints of test/fixtures/encoders from committed data only.

fairseq: the checkpoint's pickle (fairseq_tiny.data.pkl, written by fairseq's own torch_persistent_save:
cfg as an omegaconf DictConfig, task_state with a fairseq Dictionary) is kept as it was; the tensor
storages are refilled with svc_py.encoder_checkpoints.seeded_state(keys, seed), the same values the
scratch builder loaded into fairseq's HubertModel before computing the reference outputs.
soft-VC: a bare state dict with 'module.' prefixes, as hubert-soft-0d54a1f4.pt.

usage: encoder_fixture.py fairseq|fairseq-args|softvc OUT_DIR  -> OUT_DIR/checkpoint.pt, OUT_DIR/input.f32
(fairseq-args: the same weights with an argparse.Namespace config, as argparse-era fairseq saved them)"""
import argparse
import io
import json
import os
import pickle
import sys
import zipfile

import torch

from svc_py.encoder_checkpoints import seeded_state

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "encoders")


def fixture_input(record):
    n = record["input"]["samples"]
    t = torch.arange(n) / 16000
    generator = torch.Generator().manual_seed(3)
    wav = 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.05 * torch.randn(n, generator=generator)
    pad = record["input"].get("upstream_pad_samples", 0)
    return torch.nn.functional.pad(wav, (pad, pad))  # soft-VC's units() pads 40 samples at each end


class _StorageRecorder(pickle.Unpickler):
    """Reads data.pkl's tensor layout: which storage key holds which state-dict tensor."""

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}

    def find_class(self, module, name):
        if module.startswith(("torch",)) or (module, name) == ("collections", "OrderedDict"):
            return super().find_class(module, name)
        return _Anything

    def persistent_load(self, pid):
        _, storage_type, key, _, numel = pid
        storage = torch.zeros(numel, dtype=storage_type(0).dtype).storage()
        self.storages[key] = storage
        return torch.storage.TypedStorage(wrap_storage=storage._storage if hasattr(storage, "_storage") else storage, dtype=storage_type(0).dtype)


class _Anything:
    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass


def rebuild_fairseq(out_dir, as_args=False):
    record = json.load(open(os.path.join(FIXTURES, "fairseq_tiny.json")))
    state = seeded_state(record["keys"], record["seed"])
    if as_args:
        cfg = record["model_cfg"]
        args = argparse.Namespace(arch="hubert", normalize=False, label_rate=cfg["label_rate"], extractor_mode=cfg["extractor_mode"],
                                  conv_feature_layers=cfg["conv_feature_layers"], encoder_layers=cfg["encoder_layers"],
                                  encoder_embed_dim=cfg["encoder_embed_dim"], encoder_ffn_embed_dim=cfg["encoder_ffn_embed_dim"],
                                  encoder_attention_heads=cfg["encoder_attention_heads"], final_dim=cfg["final_dim"],
                                  conv_pos=cfg["conv_pos"], conv_pos_groups=cfg["conv_pos_groups"])
        torch.save({"args": args, "cfg": None, "model": state, "optimizer_history": []}, os.path.join(out_dir, "checkpoint.pt"))
        return record
    pkl = open(os.path.join(FIXTURES, "fairseq_tiny.data.pkl"), "rb").read()
    reader = _StorageRecorder(io.BytesIO(pkl))
    data = reader.load()
    with zipfile.ZipFile(os.path.join(out_dir, "checkpoint.pt"), "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pkl)
        for key, storage in reader.storages.items():
            data_name = None
            for tensor_name, tensor in data["model"].items():
                inner = tensor.storage()._storage if hasattr(tensor.storage(), "_storage") else tensor.storage()
                if inner.data_ptr() == storage.data_ptr():
                    data_name = tensor_name
                    break
            if data_name is None:
                raise SystemExit(f"storage {key} is not a model tensor")
            archive.writestr(f"archive/data/{key}", state[data_name].contiguous().numpy().astype("<f4").tobytes())
        archive.writestr("archive/version", "3\n")
    return record


def rebuild_softvc(out_dir):
    record = json.load(open(os.path.join(FIXTURES, "softvc_tiny.json")))
    state = seeded_state(record["keys"], record["seed"])
    torch.save({"module." + k: v for k, v in state.items()}, os.path.join(out_dir, "checkpoint.pt"))
    return record


def check_base_keys():
    """Full-size upstream key layouts (HuBERT base from fairseq, soft-VC) against svc's conversion
    into torchaudio's hubert_base: -> {family: {missing, unexpected, projection}}."""
    from torchaudio.models import hubert_base
    from svc_py.encoder_checkpoints import convert_fairseq_state, convert_softvc_state
    result = {}
    for family, convert in (("fairseq", convert_fairseq_state), ("softvc", convert_softvc_state)):
        record = json.load(open(os.path.join(FIXTURES, f"{family}_base.json")))
        state = {name: torch.zeros(*shape) for name, shape in record["keys"]}
        converted, projection = convert(state)
        expected = hubert_base().state_dict()
        result[family] = {"missing": sorted(set(expected) - set(converted)), "unexpected": sorted(set(converted) - set(expected)),
                          "shapes_differ": sorted(k for k in converted if k in expected and converted[k].shape != expected[k].shape),
                          "projection": {k: list(v.shape) for k, v in projection.items()}}
    return result


if __name__ == "__main__":
    if sys.argv[1] == "check-keys":
        print(json.dumps(check_base_keys()))
        raise SystemExit(0)
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    record = rebuild_softvc(out) if kind == "softvc" else rebuild_fairseq(out, as_args=kind == "fairseq-args")
    fixture_input(record).numpy().astype("<f4").tofile(os.path.join(out, "input.f32"))
    print(json.dumps({"checkpoint": os.path.join(out, "checkpoint.pt"), "input": os.path.join(out, "input.f32")}))
