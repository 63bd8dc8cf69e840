"""ONNX export with parity checks."""
