"""Convert Marian/OPUS-MT models to CTranslate2, and fetch them on connected machines.

Two sources: a Hugging Face Marian directory (OPUS-MT on the hub: config.json + weights + spm
files), or a model as Marian itself writes it, a `.npz` with its vocabularies (OPUS-MT release
zips: `.npz` + `.yml` vocab + spm; Firefox Translations "base" students: `.npz` + one shared
`vocab.*.spm`). Marian's SSRU decoders (Firefox Translations "tiny" students) have no CTranslate2
equivalent: those run with `aug backtranslate --engine bergamot`.
"""

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


def _vocab_yml(vocab: Path, out: Path) -> Path:
    """A Marian YAML vocabulary (`"token": id` lines) for a `.yml` or SentencePiece `.spm` vocab:
    Marian reads an .spm vocabulary as the SentencePiece model's pieces, in id order."""
    if vocab.suffix in (".yml", ".yaml"):
        return vocab
    if vocab.suffix != ".spm":
        raise InputError("expected a Marian vocabulary (.yml) or a SentencePiece model (.spm)", file=vocab)
    import json

    import sentencepiece as spm

    try:
        sp = spm.SentencePieceProcessor(model_file=str(vocab))
    except (OSError, RuntimeError) as e:
        raise InputError(f"cannot read the SentencePiece model ({e})", file=vocab) from e
    with open(out, "w", encoding="utf-8") as fh:
        for i in range(sp.get_piece_size()):
            fh.write(f"{json.dumps(sp.id_to_piece(i), ensure_ascii=False)}: {i}\n")
    return out


def marian_npz_files(src: Path) -> tuple[Path, list[Path]] | None:
    """(model.npz, vocabularies) when `src` is a Marian .npz or a folder holding one (its vocab
    files: a shared `vocab*.spm`/`*.yml`, or source and target ones sorted by name), else None."""
    if src.is_file():
        return (src, sorted(p for p in src.parent.iterdir() if p.name.startswith("vocab") and p.suffix in (".spm", ".yml"))) \
            if src.suffix == ".npz" else None
    npz = sorted(src.glob("*.npz"))
    if not npz or (src / "config.json").exists():
        return None
    if len(npz) > 1:
        raise InputError(f"{len(npz)} .npz files; name the model file ({', '.join(p.name for p in npz)})", file=src)
    vocabs = sorted(p for p in src.iterdir() if p.suffix in (".yml", ".spm") and "vocab" in p.name)
    return npz[0], vocabs


def convert_marian_npz(npz: str | Path, out_dir: str | Path, *, vocabs: list[Path], source_spm: Path | None = None,
                       target_spm: Path | None = None, quantization: str | None = "int8", force: bool = False) -> Path:
    """CTranslate2's Marian converter on a `.npz`; `vocabs`: one shared or [source, target]
    (.yml or .spm); the SentencePiece models default to the .spm vocabularies."""
    import tempfile

    from ctranslate2.converters import MarianConverter

    npz, out_dir = Path(npz), Path(out_dir)
    if not vocabs or len(vocabs) > 2:
        raise InputError(f"expected one shared vocabulary or a source and a target one, found {len(vocabs)}", file=npz)
    spms = [v for v in vocabs if v.suffix == ".spm"]
    beside = {side: npz.parent / f"{side}.spm" for side in ("source", "target")}  # OPUS-MT release zips ship these
    source_spm = source_spm or (spms[0] if spms else beside["source"] if beside["source"].exists() else None)
    target_spm = target_spm or (spms[-1] if spms else beside["target"] if beside["target"].exists() else None)
    if source_spm is None or target_spm is None:
        raise InputError("the vocabularies are YAML: give the SentencePiece models too (`source_spm=PATH`, `target_spm=PATH`)", file=npz)
    from prefit.jsonl import atomic_dir

    with tempfile.TemporaryDirectory(prefix="prefit-vocab-") as tmpd, atomic_dir(out_dir, overwrite=force) as tmp:
        ymls = [str(_vocab_yml(v, Path(tmpd) / f"vocab{i}.yml")) for i, v in enumerate(vocabs)]
        try:
            MarianConverter(str(npz), ymls).convert(str(tmp), quantization=quantization, force=True)
        except (ValueError, KeyError, OSError) as e:
            lines = [x.strip(" -") for x in str(e).splitlines() if x.strip(" -")]  # the converter lists its reasons on lines
            why = (" ".join(lines) or type(e).__name__)[:400]
            if "autoreg" in why:
                why += " (an SSRU decoder, as in Firefox Translations' tiny students: use aug backtranslate --engine bergamot)"
            raise InputError(f"CTranslate2 cannot convert this Marian model: {why}", file=npz) from None
        shutil.copy(source_spm, tmp / "source.spm")
        shutil.copy(target_spm, tmp / "target.spm")
    log.info("converted %s -> %s (%s)", npz, out_dir, quantization or "float32")
    return out_dir
