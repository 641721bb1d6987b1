"""svc's Python side: the So-VITS-SVC model family in PyTorch, ONNX export, checkpoint import and
reference bundles. Run modules with `/usr/bin/python3 -m svc_py.<module>` and PYTHONPATH=<repo>/python;
the TypeScript side (src/python.ts) reads their JSON-line events from stdout."""
