"""`python -m svc_py.check`: reports the versions of Python, torch, torchaudio and onnx (an
ImportError surfaces as PYTHON_UNAVAILABLE on the TypeScript side)."""
import platform

from .events import run_main


def main():
    import onnx
    import torch
    import torchaudio
    return {"python": platform.python_version(), "torch": torch.__version__, "torchaudio": torchaudio.__version__,
            "onnx": onnx.__version__}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
