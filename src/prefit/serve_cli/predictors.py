"""Any prefit model as one predictor: `load_predictor(DIR)` takes an export directory (onnxruntime),
a transformer run directory (PyTorch) or a peer run directory (scikit-learn), and returns an
object with `labels`, `probabilities(texts, batch_size)`, `variant` and `device`;
`model_identity(DIR)` is what `score` records to tell one model from another on resume.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from prefit.errors import InputError


class Predictor(Protocol):
    labels: list[str]
    variant: str
    device: str

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray: ...


def _digest(*files: Path) -> str:
    """SHA-256 of a model's files, names and contents (weights included: two runs that differ only
    by seed have weights of the same size, and must never pass for one model)."""
    h = hashlib.sha256()
    for f in files:
        if f.exists():
            h.update(f.name.encode() + b"\0" + str(f.stat().st_size).encode() + b"\0")
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def model_kind(d: Path) -> str:
    """"export", "run" or "peer"; InputError when the folder is none of them."""
    if (d / "metadata.json").exists():
        return "export"
    model_dir = d / "model"
    lm = model_dir / "label_map.json"
    if lm.exists():
        try:
            method = json.loads(lm.read_text(encoding="utf-8")).get("method")
        except (UnicodeDecodeError, ValueError, AttributeError) as e:
            raise InputError(f"invalid label_map.json ({e})", file=lm) from e
        from prefit.train.peers import PEERS

        return "peer" if method in PEERS else "run"
    raise InputError("not a prefit model: expected an export directory ('train export', metadata.json) or a run directory "
                     "(model/label_map.json)", file=d)


def model_identity(model: str | Path) -> dict:
    """What tells one model from another, without loading it: its kind and a digest of its files'
    contents. Recorded by `score` so that an output is only ever
    continued with the model that began it."""
    d = Path(model)
    if not d.is_dir():
        raise InputError("model directory not found", file=d)
    kind = model_kind(d)
    root = d if kind == "export" else d / "model"
    return {"kind": kind, "digest": _digest(*sorted(p for p in root.iterdir() if p.is_file()))}


def load_predictor(model: str | Path, device: str = "auto", threads: int = 0) -> Predictor:
    """`threads` > 0 caps the CPU threads of the model's engine (a Ray worker's share of the cores)."""
    d = Path(model)
    if not d.is_dir():
        raise InputError("model directory not found", file=d)
    kind = model_kind(d)
    if kind == "export":
        from prefit.export.scorer import Scorer

        return Scorer(d, device, threads=threads)
    if kind == "peer":
        return SklearnPredictor(d)
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    return TorchPredictor(d, device)


MIN_LENGTH = 8  # the smallest --max-length train accepts


def max_length_of(meta: dict, path: Path, default: int | None = None) -> int:
    """The `max_length` a model records (label_map.json or metadata.json), checked: an integer of at
    least MIN_LENGTH. A bad value would change every probability silently (0) or fail deep inside."""
    value = meta.get("max_length", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_LENGTH:
        raise InputError(f"expected an integer >= {MIN_LENGTH}, found {value!r}; train or export the model again", file=path,
                         field="max_length")
    return value


def reading(meta: dict, lm_path: Path) -> tuple[str, int]:
    """(read, max_windows) a model records (label_map.json or an export's metadata.json); "first"
    when it records none (made before windowed reading existed)."""
    from prefit.train.windows import DEFAULT_MAX_WINDOWS, READS

    read, max_windows = meta.get("read", "first"), meta.get("max_windows", DEFAULT_MAX_WINDOWS)
    if read not in READS or not isinstance(max_windows, int) or max_windows < 1:
        raise InputError(f"field 'read'/'max_windows': expected one of {', '.join(READS)} and a positive integer, found "
                         f"{read!r}/{max_windows!r}", file=lm_path)
    return read, max_windows


class TorchPredictor:
    """A transformer run directory, scored with PyTorch exactly as it was evaluated (its pooling)."""

    def __init__(self, run_dir: Path, device: str = "auto") -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from prefit.export.onnx_export import check_run
        from prefit.models import load_error, load_errors
        from prefit.train.loop import resolve_device

        model_dir = run_dir / "model"
        label_map = check_run(run_dir, model_dir)
        self.labels = list(label_map["labels"])
        self.max_length = max_length_of(label_map, model_dir / "label_map.json", 128)
        # Runs made before windowed reading existed were evaluated on the first window.
        self.read, self.max_windows = reading(label_map, lm_path=model_dir / "label_map.json")
        try:
            self.tok = AutoTokenizer.from_pretrained(model_dir)
            self.model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
        except load_errors() as e:
            raise load_error(model_dir, "run's model", e) from e
        self._device = resolve_device(device)
        self.model.to(self._device)
        self.device, self.variant = str(self._device), "pytorch"
        self._torch = torch
        from prefit.train.blend import saved_blend

        self.blend = saved_blend(model_dir, label_map, len(self.labels), model_dir / "label_map.json")

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Softmax of the logits under the run's reading (windows.py), in input order."""
        from prefit.train.cls_top import classify
        from prefit.train.windows import softmax, text_logits

        torch = self._torch

        def logits_of(ids, mask):
            with torch.inference_mode():
                return classify(self.model, torch.from_numpy(ids).to(self._device), torch.from_numpy(mask).to(self._device)).float().cpu().numpy()

        p = softmax(text_logits(self.tok, texts, logits_of, max_length=self.max_length, read=self.read,
                                max_windows=self.max_windows, batch_size=batch_size))
        return self.blend(texts, p) if self.blend is not None else p


class SklearnPredictor:
    """A tfidf-lr or probe run directory (model/peer.safetensors + peer.json; no pickle is ever loaded)."""

    def __init__(self, run_dir: Path) -> None:
        from prefit.train.peer_store import LoadedPeer

        model_dir = run_dir / "model"
        lm = json.loads((model_dir / "label_map.json").read_text(encoding="utf-8"))
        self.labels, self.method = list(lm["labels"]), lm["method"]
        self.peer = LoadedPeer(model_dir)
        if max(self.peer.classes) >= len(self.labels):
            raise InputError(f"peer model has class index {max(self.peer.classes)} for {len(self.labels)} labels", file=model_dir)
        self.device, self.variant = "cpu", self.method

    def probabilities(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        p = self.peer.proba(self.peer.features(texts, batch_size))
        # Columns follow the classes seen in training (label indices); a label never seen gets 0.
        out = np.zeros((len(texts), len(self.labels)), dtype="float32")
        out[:, np.asarray(self.peer.classes, dtype=int)] = p
        return out
