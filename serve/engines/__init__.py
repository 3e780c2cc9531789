"""Inference engines behind one interface: ONNX Runtime and PyTorch, plus chat-template rendering."""
