"""so-vits-svc 4.1 feature retrieval and `svc train-index`.

`logs/44k/feature_and_index.pkl` (train_index.py) is a plain pickle of {speaker id: faiss IndexIVFFlat}; faiss's
Python wrapper pickles an index as its class plus the state {"this": faiss.serialize_index bytes}. It is read as
data (safe_pickle: the faiss class becomes a stand-in that only records that state; nothing of faiss is imported
or run) and each speaker's bytes, faiss's own binary index layout ("IwFl" ...), are written to the bundle as
`feature_index_<n>.index`, which the runtime parses (src/voices/retrieval/faissIndex.ts, shared with RVC) and
searches as upstream's infer_tool does:
    score, ix = index.search(c, k=8); w = (1/score)^2 normalised; c = R * sum_j w_j big_npy[ix_j] + (1 - R) * c
with R the cluster_infer_ratio (`--cluster-ratio`; upstream: `-cr` with `--feature_retrieval`).

`python -m svc_py.feature_index train --run RUN --kind kmeans|index [--bundle DIR]` builds, from a training
run's dataset (the content rows its preprocessing wrote, per speaker, training clips), upstream's files into the
run folder with the same libraries upstream uses: `kmeans_10000.pt` (sklearn KMeans, as cluster/train_cluster.py:
{speaker: {n_features_in_, _n_threads, cluster_centers_}}) and `feature_and_index.pkl` (faiss IVF<n>,Flat with
nprobe 1, n = min(16 sqrt(N), N // 39), as utils.train_index; above 200 000 rows first MiniBatchKMeans to 10 000
centres), then, with --bundle, installs them in that bundle (cluster.onnx / the index files)."""
import argparse
import json
import os
import pickle

import numpy as np

from . import safe_pickle
from .events import SvcPyError, progress, run_main

FAISS_IVF_FLAT = b"IwFl"


def is_torch_zip(path):
    with open(path, "rb") as handle:
        return handle.read(4) == b"PK\x03\x04"


def read_feature_index(path, speakers):
    """-> [(speaker name, faiss bytes, dim, ntotal)] in the spk table's order. `speakers` is the config's
    spk table (name -> id); upstream keys the pickle by id (train_index.py: result[v]); names are accepted too."""
    try:
        with open(path, "rb") as handle:
            data = safe_pickle.plain(safe_pickle.DataUnpickler(handle).load())
    except Exception as error:
        raise SvcPyError("MODEL_INVALID", f"{path} cannot be read as a so-vits-svc feature index ({str(error)[:160]})",
                         "pass logs/44k/feature_and_index.pkl written by so-vits-svc's train_index.py")
    if not isinstance(data, dict) or not data:
        raise SvcPyError("MODEL_INVALID", f"{path} is not a so-vits-svc feature index: expected {{speaker id: faiss index}}, found {type(data).__name__}")
    out = []
    for name, sid in speakers.items():
        entry = data.get(sid, data.get(name))
        if entry is None:
            raise SvcPyError("MODEL_INVALID", f"{path} has indexes for speakers {', '.join(map(str, data))} but none for {name} (id {sid})",
                             "build the index on the same speakers as the model (train_index.py, or `svc train-index RUN --kind index`)")
        raw = entry.get("this") if isinstance(entry, dict) else None
        if not isinstance(raw, (bytes, bytearray)) or len(raw) < 32:
            cls = entry.get("__class__", type(entry).__name__) if isinstance(entry, dict) else type(entry).__name__
            raise SvcPyError("MODEL_INVALID", f"{path}: the entry of {name} is {cls}, not a pickled faiss index (state {{'this': bytes}})")
        raw = bytes(raw)
        if raw[:4] != FAISS_IVF_FLAT:
            raise SvcPyError("MODEL_UNSUPPORTED", f"{path}: the index of {name} is faiss type {raw[:4]!r}; so-vits-svc writes IndexIVFFlat ('IwFl'), the only kind svc reads",
                             "rebuild it with train_index.py or `svc train-index RUN --kind index`")
        dim = int.from_bytes(raw[4:8], "little", signed=True)
        ntotal = int.from_bytes(raw[8:16], "little", signed=True)
        out.append((name, raw, dim, ntotal))
    return out


def install_feature_index(path, out_dir, config, source=None):
    """feature_and_index.pkl -> out_dir/feature_index_<n>.index; returns the manifest's cluster entry."""
    entries = read_feature_index(path, config["spk"])
    ssl_dim = int(config["model"]["ssl_dim"])
    files = []
    for n, (name, raw, dim, ntotal) in enumerate(entries):
        if dim != ssl_dim:
            raise SvcPyError("MODEL_INVALID", f"{path}: the index of {name} holds {dim}-d features but the model takes {ssl_dim}-d",
                             "pass the feature index built on this model's features")
        file = f"feature_index_{n}.index"
        with open(os.path.join(out_dir, file), "wb") as handle:
            handle.write(raw)
        files.append(file)
    progress(f"feature index: {', '.join(f'{name} {ntotal} vectors' for name, _, _, ntotal in entries)}")
    return {"kind": "index", "files": files, "speakers": [name for name, *_ in entries],
            "vectors": [ntotal for *_, ntotal in entries], "source": source or os.path.basename(path)}


# ---------------------------------------------------------------------------------------------
# svc train-index

def dataset_features(run_dir):
    """{speaker name: float32 [N, D]} from the run's dataset (training clips' content rows) and the run's config."""
    run_info_path = os.path.join(run_dir, "run.json")
    config_path = os.path.join(run_dir, "config.json")
    if not (os.path.isfile(run_info_path) and os.path.isfile(config_path)):
        raise SvcPyError("FILE_NOT_FOUND", f"{run_dir} is not an svc training run (no run.json/config.json)", "pass the run folder `svc train` wrote")
    with open(run_info_path, encoding="utf-8") as handle:
        run_info = json.load(handle)
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    dataset = run_info["dataset"]
    manifest_path = os.path.join(dataset, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise SvcPyError("FILE_NOT_FOUND", f"the run's dataset {dataset} has no manifest.json (moved, deleted or unfinished?)", "restore the dataset folder the run was trained on")
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    rows = {}
    for clip in manifest["clips"]:
        if clip.get("split", "train") != "train":
            continue
        units = np.load(os.path.join(dataset, "clips", clip["id"] + ".units.npy")).astype(np.float32)
        rows.setdefault(clip["speaker"], []).append(units.reshape(-1, units.shape[-1]))
    features = {name: np.concatenate(rows[name], 0) for name in config["spk"] if name in rows}
    missing = [name for name in config["spk"] if name not in features]
    if missing:
        raise SvcPyError("MODEL_INVALID", f"the run's dataset has no training clips of {', '.join(missing)}")
    return config, features


def train_kmeans(features, clusters=10000, seed=0):
    """upstream cluster/train_cluster.py with --use_minibatch: MiniBatchKMeans(n_clusters, batch_size=4096,
    max_iter=80) per speaker, stored as its __main__ does. Clusters are capped at the rows a speaker has."""
    from sklearn.cluster import MiniBatchKMeans
    out = {}
    for name, x in features.items():
        k = min(clusters, x.shape[0])
        progress(f"kmeans: {name}, {x.shape[0]} rows -> {k} centres")
        model = MiniBatchKMeans(n_clusters=k, batch_size=4096, max_iter=80, n_init=3, random_state=seed).fit(x)
        out[name] = {"n_features_in_": model.n_features_in_, "_n_threads": model._n_threads, "cluster_centers_": model.cluster_centers_.astype(np.float32)}
    return out


def train_faiss_index(x, seed=0):
    """upstream utils.train_index on one speaker's rows (RVC's recipe): shuffle, MiniBatchKMeans to 10 000
    centres above 200 000 rows, faiss IVF<n>,Flat with n = min(16 sqrt(N), N // 39), nprobe 1, added in batches."""
    import faiss
    rng = np.random.default_rng(seed)
    big = x[rng.permutation(x.shape[0])]
    if big.shape[0] > 2e5:
        from sklearn.cluster import MiniBatchKMeans
        big = MiniBatchKMeans(n_clusters=10000, batch_size=256 * max(1, os.cpu_count() or 1), compute_labels=False, init="random", random_state=seed).fit(big).cluster_centers_.astype(np.float32)
    n_ivf = max(1, min(int(16 * np.sqrt(big.shape[0])), big.shape[0] // 39))
    index = faiss.index_factory(big.shape[1], f"IVF{n_ivf},Flat")
    faiss.extract_index_ivf(index).nprobe = 1
    index.train(big)
    for i in range(0, big.shape[0], 8192):
        index.add(big[i:i + 8192])
    return index


def train(run_dir, kind, bundle=None):
    config, features = dataset_features(run_dir)
    result = {"run": os.path.abspath(run_dir), "kind": kind, "speakers": {name: int(x.shape[0]) for name, x in features.items()}}
    if kind == "kmeans":
        import torch
        path = os.path.join(run_dir, "kmeans_10000.pt")
        torch.save(train_kmeans(features), path)
    else:
        path = os.path.join(run_dir, "feature_and_index.pkl")
        indexes = {config["spk"][name]: train_faiss_index(x) for name, x in features.items()}
        with open(path, "wb") as handle:
            pickle.dump(indexes, handle)  # as train_index.py: faiss indexes pickle as their serialized bytes
    result["file"] = os.path.abspath(path)
    progress(f"wrote {path}")
    if bundle:
        result["cluster"] = install_in_bundle(path, bundle)
    return result


def install_in_bundle(path, bundle):
    """Adds a kmeans_10000.pt or feature_and_index.pkl to an existing bundle (manifest.cluster)."""
    from .sovits.config import read_config
    manifest_path = os.path.join(bundle, "manifest.json")
    if not os.path.isfile(manifest_path):
        raise SvcPyError("FILE_NOT_FOUND", f"{bundle} is not a model bundle (no manifest.json)", "pass the folder `svc export` or `svc import-sovits` wrote")
    config = read_config(os.path.join(bundle, "config.json"))
    entry = prepare_cluster_file(path, bundle, config)
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    old = manifest.get("cluster") or {}
    for stale in ([old.get("file")] if old.get("file") else []) + list(old.get("files") or []):
        if stale not in (entry.get("files") or [entry.get("file")]):
            try:
                os.remove(os.path.join(bundle, os.path.basename(stale)))
            except FileNotFoundError:
                pass
    manifest["cluster"] = entry
    tmp = manifest_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2)
    os.replace(tmp, manifest_path)
    return entry


def prepare_cluster_file(path, out_dir, config):
    """kmeans_10000.pt (a torch zip) -> cluster.onnx, feature_and_index.pkl (a plain pickle) -> index files."""
    if not os.path.isfile(path):
        raise SvcPyError("FILE_NOT_FOUND", f"cluster model not found: {path}", "pass logs/44k/kmeans_10000.pt or logs/44k/feature_and_index.pkl")
    if not is_torch_zip(path):
        return install_feature_index(path, out_dir, config)
    from .cluster import export_cluster, read_kmeans
    names, centres = read_kmeans(path, list(config["spk"]))
    if centres.shape[2] != int(config["model"]["ssl_dim"]):
        raise SvcPyError("MODEL_INVALID", f"{path} clusters {centres.shape[2]}-d features but the model takes {config['model']['ssl_dim']}-d",
                         "pass the cluster model trained on this model's features")
    export_cluster(centres, os.path.join(out_dir, "cluster.onnx"))
    progress(f"cluster.onnx: {centres.shape[1]} centres for each of {', '.join(names)}")
    return {"file": "cluster.onnx", "kind": "kmeans", "speakers": names, "clusters": int(centres.shape[1]), "source": os.path.basename(path)}


def main():
    parser = argparse.ArgumentParser(prog="svc_py.feature_index")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--run", required=True)
    t.add_argument("--kind", choices=["kmeans", "index"], default="index")
    t.add_argument("--bundle")
    args = parser.parse_args()
    return train(args.run, args.kind, args.bundle)


if __name__ == "__main__":
    raise SystemExit(run_main(main))
