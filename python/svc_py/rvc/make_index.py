"""`python -m svc_py.rvc.make_index --features F.npy --out X.index [--queries Q.npy --expected-out DIR]`:
builds a retrieval index exactly as RVC's WebUI does (infer-web.py train_index): faiss
index_factory(d, "IVF<n>,Flat") with n = min(16 * sqrt(N), N // 39), nprobe = 1, train, add in
batches of 8192, write_index. --random N,D builds it from seeded Gaussian features instead.
With --queries it also writes faiss's own search (k=8) of those rows: expected_distances.npy and
expected_ids.npy (for the TypeScript reader's parity test). Needs python3-faiss."""
import argparse
import os

import numpy as np

from ..events import SvcPyError, progress, run_main


def main():
    parser = argparse.ArgumentParser(prog="svc_py.rvc.make_index")
    parser.add_argument("--features")
    parser.add_argument("--random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--queries")
    parser.add_argument("--expected-out")
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    try:
        import faiss
    except ImportError:
        raise SvcPyError("PYTHON_UNAVAILABLE", "python3-faiss is not installed", "apt-get install python3-faiss")
    if args.features:
        feats = np.load(args.features).astype(np.float32)
    elif args.random:
        n, d = (int(v) for v in args.random.split(","))
        rng = np.random.default_rng(args.seed)
        # clustered like content features: a few hundred centres plus spread
        centres = rng.standard_normal((max(4, n // 200), d)).astype(np.float32)
        feats = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.standard_normal((n, d)).astype(np.float32)
    else:
        raise SvcPyError("INVALID_ARGUMENT", "pass --features F.npy or --random N,D")
    n, d = feats.shape
    n_ivf = max(1, min(int(16 * np.sqrt(n)), n // 39))
    index = faiss.index_factory(d, "IVF%s,Flat" % n_ivf)
    ivf = faiss.extract_index_ivf(index)
    ivf.nprobe = 1
    index.train(feats)
    for i in range(0, n, 8192):
        index.add(feats[i:i + 8192])
    faiss.write_index(index, args.out)
    progress(f"index: {n} x {d}, IVF{n_ivf}, nprobe 1 -> {args.out}")
    result = {"out": os.path.abspath(args.out), "ntotal": int(index.ntotal), "dim": d, "nlist": n_ivf}
    if args.queries:
        queries = np.load(args.queries).astype(np.float32)
        distances, ids = index.search(queries, args.k)
        os.makedirs(args.expected_out, exist_ok=True)
        np.save(os.path.join(args.expected_out, "expected_distances.npy"), distances.astype(np.float32))
        np.save(os.path.join(args.expected_out, "expected_ids.npy"), ids.astype(np.int64))
        big = index.reconstruct_n(0, index.ntotal)
        weight = np.square(1 / distances)
        weight /= weight.sum(axis=1, keepdims=True)
        blended = np.sum(big[ids] * np.expand_dims(weight, axis=2), axis=1)
        np.save(os.path.join(args.expected_out, "expected_blend.npy"), blended.astype(np.float32))
    return result


if __name__ == "__main__":
    raise SystemExit(run_main(main))
