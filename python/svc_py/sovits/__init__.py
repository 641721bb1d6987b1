"""So-VITS-SVC 4.0/4.1 in PyTorch with upstream's module and parameter names (so an upstream
G_*.pth loads with strict=True), its ONNX export signature, and checkpoint/config validation."""
