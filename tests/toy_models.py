"""Build small Marian translation models locally, for offline tests, demos and benchmarks.

No translation model can be downloaded on an offline machine, so tests and benchmarks build one:
a sentencepiece model trained on local text, a `MarianMTModel` with random weights (optionally
trained briefly on a copy task so its outputs are checkable), converted with the real
CTranslate2 converter. Outputs of an untrained model are gibberish: fine for mechanics and speed,
never for quality claims.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class MarianShape:
    d_model: int = 32
    layers: int = 1
    heads: int = 2
    ffn_dim: int = 64
    vocab_size: int = 400
    max_position_embeddings: int = 512


# The architecture of Helsinki-NLP/opus-mt-en-de (vocabulary rounded to the benchmark's 32k).
OPUS_MT_SHAPE = MarianShape(d_model=512, layers=6, heads=8, ffn_dim=2048, vocab_size=32000)


def train_sentencepiece(lines: Sequence[str], out_prefix: Path, vocab_size: int) -> Path:
    """Train a unigram sentencepiece model with Marian's special ids (</s>=0, <unk>=1)."""
    import sentencepiece as spm

    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(out_prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        eos_id=0,
        unk_id=1,
        bos_id=-1,
        pad_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=False,
        input_sentence_size=200_000,
        shuffle_input_sentence=True,
        minloglevel=2,
        num_threads=2,
    )
    return out_prefix.with_suffix(".model")


def build_marian(
    out_dir: str | Path,
    lines: Sequence[str],
    shape: MarianShape = MarianShape(),
    *,
    seed: int = 0,
    copy_train_steps: int = 0,
) -> Path:
    """Write a Hugging Face Marian model directory (weights, config, spm files, vocab.json)."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = train_sentencepiece(lines, Path(tmp) / "spm", shape.vocab_size)
        shutil.copy(model_file, out_dir / "source.spm")
        shutil.copy(model_file, out_dir / "target.spm")
    sp = spm.SentencePieceProcessor(model_file=str(out_dir / "source.spm"))
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    pad_id = len(vocab)
    vocab["<pad>"] = pad_id
    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (out_dir / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "MarianTokenizer", "source_lang": "xx", "target_lang": "yy",
                    "model_max_length": shape.max_position_embeddings})
    )
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=shape.d_model,
        encoder_layers=shape.layers,
        decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn_dim,
        decoder_ffn_dim=shape.ffn_dim,
        max_position_embeddings=shape.max_position_embeddings,
        pad_token_id=pad_id,
        eos_token_id=0,
        decoder_start_token_id=pad_id,
        forced_eos_token_id=0,
        activation_function="swish",
        share_encoder_decoder_embeddings=True,
        scale_embedding=True,
    )
    model = MarianMTModel(config)
    with torch.no_grad():
        model.model.shared.weight[pad_id].zero_()
    if copy_train_steps:
        _train_copy(model, sp, lines, pad_id, copy_train_steps)
    model.save_pretrained(out_dir)
    return out_dir


def _train_copy(model, sp, lines: Sequence[str], pad_id: int, steps: int) -> None:
    """Train on the copy task (target = source). CTranslate2 starts decoding from the <pad>
    embedding as a zero vector, so that row is kept at zero after every step."""
    import random

    import torch

    rng = random.Random(0)
    ids = [sp.encode(s)[:30] + [0] for s in lines if s.strip()]
    # One thread: the same weights whatever OMP_NUM_THREADS the caller runs under (float sums
    # in another order trained a model that dropped a final "!" under 1 thread but not under 2).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
        model.train()
        for step in range(steps):
            batch = rng.sample(ids, min(32, len(ids)))
            n = max(len(b) for b in batch)
            src = torch.full((len(batch), n), pad_id)
            for i, b in enumerate(batch):
                src[i, : len(b)] = torch.tensor(b)
            labels = src.clone()
            labels[labels == pad_id] = -100
            out = model(input_ids=src, attention_mask=(src != pad_id).long(), labels=labels)
            out.loss.backward()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                model.model.shared.weight[pad_id].zero_()
            if step % 100 == 0:
                log.debug("copy-train step %d loss %.3f", step, out.loss.item())
    finally:
        torch.set_num_threads(threads)
    model.eval()
