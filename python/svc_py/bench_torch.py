"""`python -m svc_py.bench_torch --size standard --seed 1234 --blocks JSON [--threads 2] [--runs 8]`:
the PyTorch-eager side of `npm run bench`'s side-by-side: the same random-weight reference model
`make_reference` builds (same seed, so the same weights as the bundle's ONNX graphs), run per streaming
block on the same work the ONNX stage does (encoder on `encoder_samples` of 16 kHz audio, generator on
`generator_frames` frames with the rows those frames use), in upstream's inference code path
(OnnxSynthesizer is upstream's forward), timed as median milliseconds per block, with the process's
peak RSS after loading and after running. Debian's torch does its matrix products in OpenBLAS, whose own
thread pool comes on top of torch's OpenMP threads: the caller sets OPENBLAS_NUM_THREADS to --threads
(with both pools at 2 threads on a busy 2-core machine, one 200 ms block took 30 s). Each block size runs
at least --runs times after one warm-up run, fewer when one run exceeds --budget-s.

--blocks: [{"block_ms": 200, "encoder_samples": 9040, "generator_frames": 25}, ...]"""
import argparse
import copy
import json
import resource
import statistics
import time

from .events import progress, run_main


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(prog="svc_py.bench_torch")
    parser.add_argument("--size", choices=["standard"], default="standard")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--blocks", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--budget-s", type=float, default=60.0, help="stop repeating a block size after this many seconds")
    args = parser.parse_args()
    blocks = json.loads(args.blocks)

    import torch

    from .encoders import HubertLayerOutput
    from .make_reference import STANDARD_CONFIG
    from .sovits.config import validate_config
    from .sovits.export import OnnxSynthesizer, example_inputs, input_spec
    from .sovits.models import build_generator

    torch.set_num_threads(args.threads)
    rss_start = peak_rss_mib()
    started = time.time()
    config = validate_config(copy.deepcopy(STANDARD_CONFIG))
    torch.manual_seed(args.seed)
    net = build_generator(config).eval()
    encoder = HubertLayerOutput(layer=12, seed=args.seed).eval()
    wrapper = OnnxSynthesizer(net).eval()
    load_seconds = time.time() - started
    rss_loaded = peak_rss_mib()
    progress(f"torch {torch.__version__}: standard model built in {load_seconds:.1f} s, {args.threads} threads")
    names = [spec["name"] for spec in input_spec(net)]
    results = []
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for block in blocks:
            source = torch.randn(1, 1, int(block["encoder_samples"]), generator=gen) * 0.1
            inputs = example_inputs(net, frames=int(block["generator_frames"]), seed=1)
            feeds = tuple(inputs[n] for n in names)
            encoder_ms, generator_ms = [], []
            block_started = time.time()
            for run in range(args.runs + 1):
                t0 = time.perf_counter()
                encoder(source)
                t1 = time.perf_counter()
                wrapper(*feeds)
                t2 = time.perf_counter()
                if run >= 1:  # the first run allocates
                    encoder_ms.append((t1 - t0) * 1000)
                    generator_ms.append((t2 - t1) * 1000)
                if time.time() - block_started > args.budget_s and encoder_ms:
                    break
            totals = [e + g for e, g in zip(encoder_ms, generator_ms)]
            results.append({**block, "encoder_ms": statistics.median(encoder_ms), "generator_ms": statistics.median(generator_ms),
                            "total_ms": statistics.median(totals), "runs": len(totals)})
            progress(f"torch {block['block_ms']} ms blocks: {results[-1]['total_ms']:.0f} ms per block")
    return {"torch": torch.__version__, "threads": args.threads, "load_seconds": load_seconds, "blocks": results,
            "rss_start_mib": rss_start, "peak_rss_after_load_mib": rss_loaded, "peak_rss_mib": peak_rss_mib()}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
