"""Sentence embeddings from a frozen encoder, pooled as the checkpoint declares (train/pooling.py).

Used by the `probe` peer and by `aug report`. For the default encoder this is what
`SentenceTransformer("all-MiniLM-L6-v2").encode(texts)` computes: mean pooling over real tokens,
L2-normalised, at most `max_seq_length` (256) tokens.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class EmbeddingSpec:
    model: str  # resolved local directory or hub id
    pooling: str  # "mean" | "cls"
    normalize: bool
    max_length: int


def embedding_spec(model: str | None, pooling: str = "auto", max_length: int | None = None) -> EmbeddingSpec:
    """The encoder's own sentence-embedding recipe; `max_length` None takes its max_seq_length (else 256)."""
    from prefit.model.pooling import checkpoint_pooling, local_file, resolve_pooling
    from prefit.model.registry import resolve_encoder

    path = resolve_encoder(model)
    _, normalize = checkpoint_pooling(path)
    if max_length is None:
        cfg = local_file(path, "sentence_bert_config.json")
        max_length = int(json.loads(cfg.read_text()).get("max_seq_length", 256)) if cfg else 256
    return EmbeddingSpec(path, resolve_pooling(pooling, path), normalize, max_length)


def encode(texts: list[str], spec: EmbeddingSpec, *, batch_size: int = 64, progress: bool = False,
           cache_dir: str | Path | None = None) -> np.ndarray:
    """(len(texts), d) float32 embeddings, computed in length-sorted batches; cached by content when
    `cache_dir` is given (the same texts and spec give the same file)."""
    cache = None
    if cache_dir is not None:
        h = hashlib.sha256(json.dumps([spec.model, spec.pooling, spec.normalize, spec.max_length, texts]).encode()).hexdigest()[:24]
        cache = Path(cache_dir) / f"embeddings-{h}.npy"
        if cache.exists():
            return np.load(cache)
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    from prefit.model.pooling import mean_pool
    from prefit.model.registry import SAFE_MODEL, SAFE_TOKENIZER, load_error, load_errors

    try:
        tok = AutoTokenizer.from_pretrained(spec.model, **SAFE_TOKENIZER)
        model = AutoModel.from_pretrained(spec.model, **SAFE_MODEL).eval()
    except load_errors() as e:
        raise load_error(spec.model, "embedding model", e) from e
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = None
    with torch.inference_mode():
        for s in tqdm(range(0, len(order), batch_size), desc="embedding", disable=not progress, leave=False):
            idx = order[s : s + batch_size]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=spec.max_length, return_tensors="pt")
            hidden = model(**enc).last_hidden_state
            v = mean_pool(hidden, enc["attention_mask"]) if spec.pooling == "mean" else hidden[:, 0]
            if spec.normalize:
                v = torch.nn.functional.normalize(v, dim=-1)
            if out is None:
                out = np.zeros((len(texts), v.shape[-1]), dtype="float32")
            out[idx] = v.float().numpy()
    if out is None:
        out = np.zeros((0, 0), dtype="float32")
    if cache is not None:
        from prefit.jsonl import atomic_write

        with atomic_write(cache, "wb") as fh:
            np.save(fh, out)
    return out
