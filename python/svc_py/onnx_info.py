"""`python -m svc_py.onnx_info FILE.onnx`: the graph's inputs/outputs as stored in the file
(name, dtype, dims with symbolic names) and its opset, read back with the onnx package."""
import sys

from .events import SvcPyError, run_main


def main():
    if len(sys.argv) != 2:
        raise SvcPyError("INVALID_ARGUMENT", "usage: python -m svc_py.onnx_info FILE.onnx")
    from .bundle import onnx_io
    inputs, outputs, opsets = onnx_io(sys.argv[1])
    return {"inputs": inputs, "outputs": outputs, "opset": opsets[0] if opsets else None}


if __name__ == "__main__":
    raise SystemExit(run_main(main))
