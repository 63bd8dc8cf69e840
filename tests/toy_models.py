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


def marian_npz_from_hf(hf_dir: str | Path, out_dir: str | Path) -> Path:
    """Write a Hugging Face Marian model as Marian itself saves it: model.npz (parameters named as
    Marian names them, the config as "special:model.yml") and vocab.yml, beside source/target.spm.
    The layout of OPUS-MT's release zips; the post-norm transformer CTranslate2's Marian converter takes."""
    import numpy as np
    import yaml
    from transformers import MarianMTModel

    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = MarianMTModel.from_pretrained(hf_dir)
    cfg, sd = model.config, {k: v.detach().numpy() for k, v in model.state_dict().items()}
    w: dict[str, np.ndarray] = {"Wemb": sd["model.shared.weight"], "decoder_ff_logit_out_b": sd["final_logits_bias"].reshape(1, -1)}

    def linear(name: str, key: str) -> None:  # Marian stores W as (in, out), biases as (1, out)
        prefix, suffix = name.rsplit("_", 1)
        w[f"{prefix}_W{suffix}"] = sd[f"{key}.weight"].T.copy()
        w[f"{prefix}_b{suffix}"] = sd[f"{key}.bias"].reshape(1, -1)

    def norm(name: str, key: str) -> None:
        w[f"{name}_ln_scale"], w[f"{name}_ln_bias"] = sd[f"{key}.weight"].reshape(1, -1), sd[f"{key}.bias"].reshape(1, -1)

    for side, n in (("encoder", cfg.encoder_layers), ("decoder", cfg.decoder_layers)):
        for i in range(n):
            hf, mn = f"model.{side}.layers.{i}", f"{side}_l{i + 1}"
            attns = [("self", "self_attn", "self_attn_layer_norm")] + ([("context", "encoder_attn", "encoder_attn_layer_norm")]
                                                                       if side == "decoder" else [])
            for mname, hname, lnname in attns:
                for proj, letter in (("q_proj", "q"), ("k_proj", "k"), ("v_proj", "v"), ("out_proj", "o")):
                    linear(f"{mn}_{mname}_{letter}", f"{hf}.{hname}.{proj}")
                norm(f"{mn}_{mname}_Wo", f"{hf}.{lnname}")
            linear(f"{mn}_ffn_1", f"{hf}.fc1")
            linear(f"{mn}_ffn_2", f"{hf}.fc2")
            norm(f"{mn}_ffn_ffn", f"{hf}.final_layer_norm")
    config = {"type": "transformer", "enc-depth": cfg.encoder_layers, "dec-depth": cfg.decoder_layers,
              "transformer-heads": cfg.encoder_attention_heads, "transformer-ffn-activation": cfg.activation_function,
              "transformer-preprocess": "", "transformer-postprocess": "dan", "transformer-postprocess-emb": "d",
              "transformer-decoder-autoreg": "self-attention", "transformer-no-projection": False,
              "transformer-guided-alignment-layer": "last", "tied-embeddings-all": True, "dim-emb": cfg.d_model}
    w["special:model.yml"] = np.frombuffer(yaml.safe_dump(config).encode() + b"\0", dtype=np.int8)
    np.savez(out_dir / "model.npz", **w)
    vocab = json.loads((hf_dir / "vocab.json").read_text())
    with open(out_dir / "vocab.yml", "w", encoding="utf-8") as fh:
        for tok, i in sorted(vocab.items(), key=lambda kv: kv[1]):
            fh.write(f"{json.dumps(tok, ensure_ascii=False)}: {i}\n")
    for f in ("source.spm", "target.spm"):
        shutil.copy(hf_dir / f, out_dir / f)
    return out_dir / "model.npz"
