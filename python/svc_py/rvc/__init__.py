"""RVC (Retrieval-based-Voice-Conversion WebUI) v1/v2 synthesizers: checkpoint reading, svc's
own implementation of the inference graph with RVC's parameter names, ONNX export with RVC's
export signature."""
