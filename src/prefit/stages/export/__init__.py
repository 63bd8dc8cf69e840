"""Export stage: a run folder to ONNX (fp32, int8, fp16) with a parity check. The API function is
`prefit.export`."""
