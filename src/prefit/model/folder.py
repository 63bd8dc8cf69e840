"""Saved model folders, read and checked in one place: a training run (RUN/model: weights,
tokenizer, label_map.json), a peer run (RUN/model: peer.safetensors + peer.json) or an ONNX export
(metadata.json + config.json + model*.onnx). `model_kind` tells them apart, `model_identity` is
what `score` records so an output is only ever continued with the model that began it, and the
checks here refuse a damaged folder with one line naming the file and field.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from prefit.errors import InputError


def _digest(root: Path, files: list[Path]) -> str:
    """SHA-256 of a model's files, paths (relative to `root`) and contents (weights included: two
    runs that differ only by seed have weights of the same size, and must never pass for one
    model), cut to 16 hex digits."""
    h = hashlib.sha256()
    for f in files:
        if f.exists():
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + str(f.stat().st_size).encode() + b"\0")
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
        from prefit.model.peer_store import PEERS

        return "peer" if method in PEERS else "run"
    raise InputError("not a prefit model: expected an export directory ('train export', metadata.json) or a run directory "
                     "(model/label_map.json)", file=d)


def model_identity(model: str | Path) -> dict:
    """What tells one model from another, without loading it: its kind and a digest of every file
    under the export folder or RUN/model, sub-folders too (tfidf/, 1_Pooling/). Recorded by
    `score` so that an output is only ever continued with the model that began it."""
    d = Path(model)
    if not d.is_dir():
        raise InputError("model directory not found", file=d)
    kind = model_kind(d)
    root = d if kind == "export" else d / "model"
    return {"kind": kind, "digest": _digest(root, sorted(p for p in root.rglob("*") if p.is_file()))}


MIN_LENGTH = 8  # the smallest --max-length train accepts


def max_length_of(meta: dict, path: Path, default: int | None = None, model_dir: Path | None = None) -> int:
    """The `max_length` a model records (label_map.json or metadata.json), checked: an integer of at
    least MIN_LENGTH and, given the folder of its config.json, at most the encoder's positions. A
    bad value would change every probability silently (0) or fail deep inside."""
    value = meta.get("max_length", default)
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_LENGTH:
        raise InputError(f"expected an integer >= {MIN_LENGTH}, found {value!r}; train or export the model again", file=path,
                         field="max_length")
    if model_dir is not None:
        from prefit.model.registry import check_positions, read_config

        check_positions(value, read_config(model_dir), path, "max_length")
    return value


def reading(meta: dict, lm_path: Path) -> tuple[str, int]:
    """(read, max_windows) a model records (label_map.json or an export's metadata.json); "first"
    when it records none (made before windowed reading existed)."""
    from prefit.model.windows import DEFAULT_MAX_WINDOWS, READS

    read, max_windows = meta.get("read", "first"), meta.get("max_windows", DEFAULT_MAX_WINDOWS)
    if read not in READS or not isinstance(max_windows, int) or max_windows < 1:
        raise InputError(f"field 'read'/'max_windows': expected one of {', '.join(READS)} and a positive integer, found "
                         f"{read!r}/{max_windows!r}", file=lm_path)
    return read, max_windows


def labels_of(label_map: object, path: Path) -> list[str]:
    """label_map.json's `labels`, checked: a list of distinct non-empty strings (a bad one would
    otherwise surface as a traceback, or as predictions named null)."""
    labels = label_map.get("labels") if isinstance(label_map, dict) else None
    if (not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x.strip() for x in labels)
            or len(set(labels)) != len(labels)):
        raise InputError(f"expected a list of distinct label names, found {str(labels)[:80]}", file=path, field="labels")
    return labels


def check_run(run_dir: Path, model_dir: Path) -> dict:
    """The run's label_map, after refusing (one line each) what would export a broken model: no
    run, a peer run, missing config/weights/tokenizer, labels that disagree with the model's head."""
    from prefit.model.peer_store import PEERS
    from prefit.model.registry import check_model_dir

    lm_path = model_dir / "label_map.json"
    if not lm_path.exists():
        raise InputError("not a prefit run directory (no model/label_map.json); train one with 'train two-stage'", file=run_dir)
    try:
        label_map = json.loads(lm_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"invalid label_map.json ({type(e).__name__}: {e})", file=lm_path) from e
    labels = labels_of(label_map, lm_path)
    if label_map.get("method") in PEERS:
        raise InputError(f"a {label_map['method']} run is a scikit-learn model (model/peer.safetensors); ONNX export takes transformer "
                         "runs (two-stage, vanilla, oversample, lpft)", file=run_dir)
    cfg = check_model_dir(model_dir)
    id2label = cfg.get("id2label") or {}
    head = [id2label.get(str(i)) for i in range(len(id2label))]
    if head != labels:
        raise InputError(f"label_map.json lists {len(labels)} label(s) {labels[:5]} but the model's head has {len(head)} "
                         f"{head[:5]} (config.json id2label); the run is damaged, retrain it", file=lm_path)
    return label_map


def read_export(d: Path) -> tuple[dict, list[str]]:
    """metadata.json and the labels (config.json id2label, by index) of an export directory."""
    from prefit.model.registry import read_config

    if not (d / "metadata.json").exists():
        raise InputError("not a prefit export directory (no metadata.json); make one with 'train export'", file=d)
    try:
        meta = json.loads((d / "metadata.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise TypeError(f"expected an object, found {type(meta).__name__}")
    except (UnicodeDecodeError, ValueError, TypeError) as e:
        raise InputError(f"invalid metadata.json ({type(e).__name__}: {e}); export the run again", file=d / "metadata.json") from e
    id2label = read_config(d).get("id2label") or {}
    labels = [id2label.get(str(i)) for i in range(len(id2label))] if isinstance(id2label, dict) else []
    if not labels or not all(isinstance(x, str) for x in labels) or len(set(labels)) != len(labels):
        raise InputError("config.json has no usable id2label (labels 0..N-1); export the run again", file=d / "config.json")
    return meta, labels
