"""onnxruntime backend of an export directory: one session, batches sorted by length. `OnnxBackend`
picks CUDA (with IO binding) when onnxruntime offers it and CPU otherwise."""

from __future__ import annotations

import logging
from pathlib import Path

from prefit.errors import InputError

log = logging.getLogger("prefit")


class OnnxBackend:
    def __init__(self, export_dir: str | Path, device: str = "auto", variant: str = "auto", threads: int = 0) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from prefit.model.folder import max_length_of, read_export, reading

        d = Path(export_dir)
        self.meta, self.labels = read_export(d)
        self.max_length = max_length_of(self.meta, d / "metadata.json", model_dir=d)
        self.read, self.max_windows = reading(self.meta, d / "metadata.json")
        from prefit.model.blend import saved_blend

        self.blend = saved_blend(d, self.meta, len(self.labels), d / "metadata.json")
        from prefit.model.registry import resolve_device

        use_cuda = resolve_device(device, "onnxruntime") == "cuda"
        files = {"fp32": "model.onnx", "int8": "model.int8.onnx", "fp16": "model.fp16.onnx"}

        def pick(cuda: bool) -> str:
            if variant != "auto":
                return variant
            preferred = "fp16" if cuda else "int8"
            return preferred if (d / files[preferred]).exists() else "fp32"

        chosen = pick(use_cuda)
        self.threads = threads  # 0: onnxruntime's default, a thread per core
        self.session = self._session(ort, d, files, chosen, use_cuda)
        self.device = "cuda" if "CUDAExecutionProvider" in self.session.get_providers() else "cpu"
        if use_cuda and self.device == "cpu":
            if device == "cuda":
                raise RuntimeError("onnxruntime could not start CUDA (it needs CUDA 13 and cuDNN 9); use --device cpu or auto")
            log.warning("onnxruntime could not start CUDA; scoring on CPU")
            if pick(False) != chosen:
                chosen = pick(False)
                self.session = self._session(ort, d, files, chosen, False)
        self.variant = chosen
        self.input_names = [i.name for i in self.session.get_inputs()]
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(self.labels):
            raise InputError(f"config.json's id2label names {len(self.labels)} labels but {files[chosen]} has {width} outputs; "
                             "export the run again", file=d / "config.json", field="id2label")
        from prefit.model.registry import SAFE_TOKENIZER, check_model_dir, load_error, load_errors

        check_model_dir(d, weights=False)
        try:
            self.tok = AutoTokenizer.from_pretrained(d, **SAFE_TOKENIZER)
        except load_errors() as e:
            raise load_error(d, "export's tokenizer", e) from e

    def _session(self, ort, d: Path, files: dict, variant: str, cuda: bool):
        path = d / files[variant]
        if not path.exists():
            raise InputError(f"export has no {variant} model ({path.name})", file=d)
        providers = (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.log_severity_level = 3  # errors only: its warnings are noise to a user
        opts.intra_op_num_threads = self.threads
        try:
            return ort.InferenceSession(str(path), opts, providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf/... types, all plain Exceptions
            raise InputError(f"cannot load the ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:300]})", file=path) from e

    def probabilities(self, texts: list[str], batch_size: int = 32):
        """Softmax probabilities per text under the export's reading (windows.py), batched by
        similar length; returned in input order."""
        import numpy as np

        from prefit.model.windows import softmax, text_logits

        def logits_of(ids, mask):
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            feeds = {k: feeds[k] for k in self.input_names}
            return self._run_iobinding(feeds) if self.device == "cuda" else self.session.run(["logits"], feeds)[0]

        p = softmax(text_logits(self.tok, texts, logits_of, max_length=self.max_length, read=self.read,
                                max_windows=self.max_windows, batch_size=batch_size))
        return self.blend(texts, p) if self.blend is not None else p

    def _run_iobinding(self, feeds):
        import onnxruntime as ort

        binding = self.session.io_binding()
        for k, v in feeds.items():
            binding.bind_ortvalue_input(k, ort.OrtValue.ortvalue_from_numpy(v, "cuda", 0))
        binding.bind_output("logits", "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()[0]


