"""What a run records about where it came from: package versions and its data files' SHA-256."""

from __future__ import annotations

import platform
from pathlib import Path


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for p in ("prefit", "torch", "transformers", "tokenizers", "numpy"):
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def data_fingerprints(cfg) -> dict[str, str | None]:
    """SHA-256 of each data file a run reads, so that a finished run is reused only for the same data
    (a path alone says nothing once a file is rebuilt, e.g. after a parser fix changes the labels)."""
    import hashlib

    out: dict[str, str | None] = {}
    for name in ("train", "eval", "augmented"):
        path = getattr(cfg, name)
        if path is None:
            out[name] = None
            continue
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        out[name] = h.hexdigest()
    return out


RUN_SETTINGS = "run.json"  # prefit's settings of a run; config.json is transformers' name


def settings_file(run_dir: str | Path) -> Path:
    """A run's settings file: run.json, or config.json in a run made before the rename."""
    run_dir = Path(run_dir)
    return run_dir / RUN_SETTINGS if (run_dir / RUN_SETTINGS).exists() or not (run_dir / "config.json").exists() else run_dir / "config.json"
