"""Epoch checkpoints: a killed training run resumes at its last finished epoch, with the same result.

A full-size run takes one to two hours on a small CPU, longer than many sessions or preemptible
machines last. After every epoch the run writes `.RUN.checkpoint.pt` beside its run directory:
the model and optimizer state, the learning-rate schedule, every random-number generator the
loop draws from, and the history so far. A later run with the same training (same `key`: method,
stages, data contents, model, seed, length, pooling, library versions) loads it and continues
from the next epoch; because the batch order and dropout draw from the restored generators, the
resumed run ends with the weights an uninterrupted one would have (tests/test_checkpoint.py).
Any other file there is ignored and replaced at the next epoch. The file is removed once the run
directory is in place.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("prefit")


def checkpoint_path(run_dir: str | os.PathLike) -> Path:
    run_dir = Path(run_dir)
    return run_dir.with_name(f".{run_dir.name}.checkpoint.pt")


def rng_state() -> dict[str, Any]:
    """The global generators the loop draws from (dropout: torch; nothing else today, but a
    library may use Python's or NumPy's), as plain values torch.load(weights_only=True) accepts."""
    import numpy as np

    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": to_lists(random.getstate()), "torch": torch.get_rng_state(),
             "numpy": [name, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(gauss)]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np

    random.setstate(to_tuples(state["python"]))
    torch.set_rng_state(state["torch"])
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((name, keys.numpy().astype("uint32"), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def to_lists(x):
    return [to_lists(v) for v in x] if isinstance(x, tuple) else x


def to_tuples(x):
    return tuple(to_tuples(v) for v in x) if isinstance(x, list) else x


class Checkpoint:
    """The epoch checkpoint of one run directory; `key` says which training it belongs to."""

    def __init__(self, run_dir: str | os.PathLike, key: str) -> None:
        self.path = checkpoint_path(run_dir)
        self.key = key

    def load(self) -> dict[str, Any] | None:
        """The saved state if it belongs to this training, else None (and the reason is logged)."""
        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - a torn or foreign file is only a lost head start
            log.warning("ignoring unreadable epoch checkpoint %s (%s); training from the start", self.path, e)
            return None
        if not isinstance(state, dict) or state.get("key") != self.key:
            log.warning("ignoring epoch checkpoint %s: it belongs to another training (other settings, data or versions); "
                        "training from the start", self.path)
            return None
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Written to a temporary sibling and renamed: a kill mid-write leaves the previous checkpoint."""
        from prefit.jsonl import atomic_write

        with atomic_write(self.path, "wb") as fh:
            torch.save({**state, "key": self.key}, fh)
