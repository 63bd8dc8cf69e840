"""One class for every saved prefit classifier: `Classifier.load(DIR)` takes an ONNX export
(onnxruntime, model/onnx.py), a transformer run (PyTorch) or a peer run (scikit-learn), and reads
texts exactly as the model was evaluated (its pooling, its windows, its TF-IDF blend). `train`,
`export`, `score`, Ray workers and the Python API all score through it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

from prefit.errors import InputError


class Backend(Protocol):
    """What Classifier needs from an engine."""

    labels: list[str]
    variant: str  # "pytorch", "fp32" / "int8" / "fp16" (ONNX), "tfidf-lr" / "probe"
    device: str

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


class Classifier:
    """A saved prefit classifier — a training run, an ONNX export or a peer (TF-IDF / probe) — that
    reads texts as it was evaluated and returns labels or probabilities."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", threads: int = 0) -> Classifier:
        """`device`: auto, cpu or cuda. `threads` > 0 caps the engine's CPU threads (a Ray
        worker's share of the cores)."""
        from prefit.model.folder import model_kind

        d = Path(path)
        if not d.is_dir():
            raise InputError("model directory not found", file=d)
        kind = model_kind(d)
        if kind == "export":
            from prefit.model.onnx import OnnxBackend

            return cls(OnnxBackend(d, device, threads=threads))
        if kind == "peer":
            return cls(SklearnBackend(d))
        if threads > 0:
            import torch

            torch.set_num_threads(threads)
        return cls(TorchBackend(d, device))

    @property
    def labels(self) -> list[str]:
        return list(self._backend.labels)

    @property
    def device(self) -> str:
        return self._backend.device

    @property
    def variant(self) -> str:
        return self._backend.variant

    @property
    def backend(self) -> Backend:
        return self._backend

    def predict_proba(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """(len(texts), len(labels)) probabilities, columns in `labels` order."""
        texts = _texts(texts)
        if (blank := next((i for i, t in enumerate(texts) if not t.strip()), None)) is not None:
            raise InputError(f"texts[{blank}]: empty text (score refuses it too)")
        if not texts:
            return np.zeros((0, len(self.labels)), dtype="float32")
        return np.asarray(self._backend.probabilities(texts, batch_size))

    probabilities = predict_proba

    def predict(self, texts: list[str], batch_size: int = 32) -> list[str]:
        p = self.predict_proba(texts, batch_size)
        return [self.labels[i] for i in p.argmax(-1)] if len(p) else []


def _texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise InputError("texts: expected a list of strings, found one string (wrap it in a list)")
    out = list(texts)
    bad = next((i for i, t in enumerate(out) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"texts[{bad}]: expected a string, found {type(out[bad]).__name__}")
    return out


class TorchBackend:
    """A transformer run directory, scored with PyTorch exactly as it was evaluated (its pooling)."""

    def __init__(self, run_dir: Path, device: str = "auto") -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from prefit.model.folder import check_run, max_length_of, reading
        from prefit.model.hf_layout import weights_variant
        from prefit.model.registry import (
            SAFE_MODEL,
            SAFE_TOKENIZER,
            load_error,
            load_errors,
            resolve_device,
        )

        model_dir = run_dir / "model"
        label_map = check_run(run_dir, model_dir)
        self.labels = list(label_map["labels"])
        self.max_length = max_length_of(label_map, model_dir / "label_map.json", 128, model_dir=model_dir)
        # Runs made before windowed reading existed were evaluated on the first window.
        self.read, self.max_windows = reading(label_map, lm_path=model_dir / "label_map.json")
        try:
            self.tok = AutoTokenizer.from_pretrained(model_dir, **SAFE_TOKENIZER)
            self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, variant=weights_variant(model_dir), **SAFE_MODEL).eval()
        except load_errors() as e:
            raise load_error(model_dir, "run's model", e) from e
        self._device = torch.device(resolve_device(device, "torch"))
        self.model.to(self._device)
        self.device, self.variant = str(self._device), "pytorch"
        self._torch = torch
        from prefit.model.blend import saved_blend

        self.blend = saved_blend(model_dir, label_map, len(self.labels), model_dir / "label_map.json")

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Softmax of the logits under the run's reading (windows.py), in input order."""
        from prefit.model.cls_top import classify
        from prefit.model.windows import softmax, text_logits

        torch = self._torch

        def logits_of(ids, mask):
            with torch.inference_mode():
                return classify(self.model, torch.from_numpy(ids).to(self._device), torch.from_numpy(mask).to(self._device)).float().cpu().numpy()

        p = softmax(text_logits(self.tok, texts, logits_of, max_length=self.max_length, read=self.read,
                                max_windows=self.max_windows, batch_size=batch_size))
        return self.blend(texts, p) if self.blend is not None else p


class SklearnBackend:
    """A tfidf-lr or probe run directory (model/peer.safetensors + peer.json; no pickle is ever loaded)."""

    def __init__(self, run_dir: Path) -> None:
        from prefit.model.folder import labels_of
        from prefit.model.peer_store import LoadedPeer

        model_dir = run_dir / "model"
        lm_path = model_dir / "label_map.json"
        try:
            lm = json.loads(lm_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise InputError(f"invalid label_map.json ({type(e).__name__}: {e})", file=lm_path) from e
        self.labels, self.method = labels_of(lm, lm_path), lm.get("method")
        self.peer = LoadedPeer(model_dir, len(self.labels))
        self.device, self.variant = "cpu", self.method

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        p = self.peer.proba(self.peer.features(texts, batch_size))
        # Columns follow the classes seen in training (label indices); a label never seen gets 0.
        out = np.zeros((len(texts), len(self.labels)), dtype="float32")
        out[:, np.asarray(self.peer.classes, dtype=int)] = p
        return out
