"""Convert Marian/OPUS-MT models to CTranslate2, and fetch them on connected machines."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from prefit.errors import InputError
from prefit.model.registry import opus_mt_hub_id

log = logging.getLogger("prefit")

SPM_FILES = ("source.spm", "target.spm")


def convert_marian(hf_dir: str | Path, out_dir: str | Path, *, quantization: str | None = "int8", force: bool = False) -> Path:
    """Run the CTranslate2 Transformers converter and copy the sentencepiece files beside it."""
    from ctranslate2.converters import TransformersConverter

    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    missing = [f for f in SPM_FILES if not (hf_dir / f).exists()]
    if not (hf_dir / "config.json").exists() or missing:
        raise InputError(f"not a Marian model directory (needs config.json, {', '.join(SPM_FILES)})", file=hf_dir)
    from prefit.jsonl import atomic_dir

    # Converted into a hidden sibling and moved into place: an interrupted conversion leaves nothing.
    with atomic_dir(out_dir, overwrite=force) as tmp:
        TransformersConverter(str(hf_dir)).convert(str(tmp), quantization=quantization, force=True)
        for f in SPM_FILES:
            shutil.copy(hf_dir / f, tmp / f)
    log.info("converted %s -> %s (%s)", hf_dir, out_dir, quantization or "float32")
    return out_dir


def fetch_opus_mt(pair: str, models_dir: str | Path, *, quantization: str | None = "int8", force: bool = False) -> Path:
    """Download Helsinki-NLP/opus-mt-SRC-TGT from the Hugging Face hub and convert it to MODELS_DIR/SRC-TGT."""
    repo = opus_mt_hub_id(pair)
    try:
        from huggingface_hub import snapshot_download

        hf_dir = snapshot_download(repo, allow_patterns=["*.json", "*.spm", "*.bin", "*.safetensors", "*.txt"])
    except Exception as e:  # the hub client raises many types for "offline"
        raise InputError(f"could not download {repo} ({type(e).__name__}: {e}); this needs a connected machine") from e
    return convert_marian(hf_dir, Path(models_dir) / pair, quantization=quantization, force=force)
