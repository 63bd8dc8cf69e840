"""Back-translation speed: prefit's CTranslate2 engine vs nlpaug's BackTranslationAug, same model.

A Marian model with OPUS-MT en-de's architecture (d_model 512, 6+6 layers, 8 heads, FFN 2048,
32k sentencepiece vocabulary trained on 20 Newsgroups; random weights, built locally because no
model can be downloaded here) serves as both en->de and de->en. 256 real 20 Newsgroups sentences
make a round trip. Equal work: greedy decoding, and exactly --tokens decoded tokens per sentence
on both legs for both engines (end-of-sentence is suppressed until then, decoding stops there).

The default CLI path is measured too: `aug backtranslate --balance none --pivot de` end to end
(seeded sampling, top-k 10, resumable chunks of 32 draws, which reload both translators per chunk
so that each chunk has its own seed), on the same sentences as records, with the int8 model as
en-de and de-en; and, separately, what one translator reload costs. Random weights decode to the
length cap, so the sampled path decodes more tokens than the 32-token greedy rows: its rate is a
lower bound for a real model's.

    python bench/backtranslate_speed.py [--sentences 256] [--tokens 32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import body, machine, median_time, newsgroups, print_table, write_result  # noqa: E402


def sentences(n: int, seed: int = 0) -> list[str]:
    from prefit.augment.sentences import split_sentences

    pool = []
    for r in newsgroups():
        for s, _ in split_sentences(" ".join(body(r["text"]).split())):
            words = s.split()
            if 8 <= len(words) <= 30 and re.search(r"[a-z]{3}", s) and not re.search(r"[@>|]", s):
                pool.append(s)
    return random.Random(seed).sample(pool, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sentences", type=int, default=256)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nlpaug-repeats", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32, help="nlpaug batch size (examples)")
    args = ap.parse_args()

    import json

    import torch
    from transformers import GenerationConfig

    from prefit.augment.backtranslate import BackTranslator, DecodingOptions, EngineOptions
    from prefit.augment.convert import convert_marian
    from prefit.augment.toy_models import OPUS_MT_SHAPE, build_marian

    sents = sentences(args.sentences)
    work = Path(tempfile.mkdtemp(prefix="prefit-bench-bt-"))
    t = time.perf_counter()
    corpus = [s for r in newsgroups() for s in body(r["text"]).splitlines() if len(s.split()) > 3]
    hf = build_marian(work / "hf", corpus, OPUS_MT_SHAPE, seed=0)
    L = args.tokens
    # nlpaug calls generate(max_length=...): force exactly L new tokens after the start token.
    GenerationConfig(num_beams=1, do_sample=False, min_length=L + 1, max_length=L + 1, decoder_start_token_id=json.load(open(hf / "config.json"))["decoder_start_token_id"],
                     eos_token_id=0, pad_token_id=json.load(open(hf / "config.json"))["pad_token_id"]).save_pretrained(hf)
    variants = {q: convert_marian(hf, work / f"ct2-{q}", quantization=None if q == "float32" else q) for q in ("int8", "float32")}
    vocab = len(json.load(open(hf / "vocab.json")))
    print(f"model built and converted in {time.perf_counter() - t:.0f}s (vocabulary {vocab})", file=sys.stderr)

    rows, results = [], {}
    dec = DecodingOptions(mode="greedy", min_decoding_length=L, max_decoding_length=L, length_ratio_cap=1e6, max_input_tokens=512)
    for q, d in variants.items():
        bt = BackTranslator({"de": (d, d)}, dec, EngineOptions(device="cpu", compute_type=q, intra_threads=0))
        fwd = bt.directions["de"][0]
        toks = [fwd.sp_source.encode(s, out_type=str) for s in sents]
        res = fwd.translator.translate_batch([x + ["</s>"] for x in toks], beam_size=1, min_decoding_length=L, max_decoding_length=L,
                                             max_batch_size=4096, batch_type="tokens")
        lengths = {len(r.hypotheses[0]) for r in res}
        med, times = median_time(lambda bt=bt: bt.back_translate(sents, "de"), args.repeats)
        results[f"prefit-ct2-{q}"] = {"median_s": med, "times_s": times, "sentences_per_s": len(sents) / med, "decoded_tokens_per_sentence": sorted(lengths)}
        rows.append([f"prefit (CTranslate2 {q})", len(sents), med, len(sents) / med, ",".join(map(str, sorted(lengths)))])

    import nlpaug.augmenter.word as naw

    torch.manual_seed(0)
    aug = naw.BackTranslationAug(from_model_name=str(hf), to_model_name=str(hf), device="cpu", batch_size=args.batch_size, max_length=L + 1)
    probe = aug.model.src_tokenizer(sents[:4], padding=True, return_tensors="pt")
    with torch.no_grad():
        gen = aug.model.src_model.generate(**probe, max_length=L + 1)
    hf_len = gen.shape[1] - 1
    med, times = median_time(lambda: aug.augment(sents), args.nlpaug_repeats)
    results["nlpaug-transformers-fp32"] = {"median_s": med, "times_s": times, "sentences_per_s": len(sents) / med, "decoded_tokens_per_sentence": [hf_len]}
    rows.append(["nlpaug BackTranslationAug (transformers fp32)", len(sents), med, len(sents) / med, str(hf_len)])

    # The default CLI path, end to end, and the cost of the per-chunk reload it does for seeding.
    import subprocess

    models = work / "models"
    for pair in ("en-de", "de-en"):
        (models / pair).parent.mkdir(parents=True, exist_ok=True)
        if not (models / pair).exists():
            (models / pair).symlink_to(variants["int8"])
    recs = work / "sents.jsonl"
    recs.write_text("".join(json.dumps({"id": i, "text": t, "label": "x"}) + "\n" for i, t in enumerate(sents)))

    def cli() -> None:
        for p in work.glob("cli_out*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        subprocess.run([str(Path(sys.executable).parent / "aug"), "backtranslate", str(recs), "-o", str(work / "cli_out.jsonl"),
                        "--models-dir", str(models), "--pivot", "de", "--balance", "none", "--seed", "0", "--intra-threads", "0", "-q"],
                       check=True)

    med, times = median_time(cli, args.repeats)
    summary = json.loads((work / "cli_out.summary.json").read_text())
    results["prefit-cli-default-int8-sample"] = {"median_s": med, "times_s": times, "sentences_per_s": len(sents) / med,
                                                 "engine_sentences_per_s": summary["sentences_per_second"],
                                                 "chunks": -(-len(sents) // 32), "decoded_tokens_per_sentence": ["sampled, to the cap"]}
    rows.append(["prefit CLI default (sample, chunks of 32, int8)", len(sents), med, len(sents) / med, "sampled"])
    d = BackTranslator({"de": (variants["int8"], variants["int8"])}, DecodingOptions(), EngineOptions(device="cpu", compute_type="int8"))
    reload_s, _ = median_time(lambda: d.directions["de"][0].reseed(1), 5)
    results["translator_reload_s"] = reload_s

    base = results["nlpaug-transformers-fp32"]["sentences_per_s"]
    for r, k in zip(rows, [k for k in results if k != "translator_reload_s"]):
        r.append(results[k]["sentences_per_s"] / base)
        results[k]["ratio_vs_nlpaug"] = results[k]["sentences_per_s"] / base
    print(f"\nround trip en->de->en, {len(sents)} sentences, greedy, {L} tokens per leg, OPUS-MT en-de shape, vocabulary {vocab}")
    print_table(["engine", "sentences", "median s", "sentences/s", "tokens/leg", "x nlpaug"], rows)
    n_chunks = -(-len(sents) // 32)
    print(f"one translator reload: {reload_s:.2f} s; the default path reloads 2 per chunk ({n_chunks} chunks): "
          f"{2 * n_chunks * reload_s:.1f} s of its {results['prefit-cli-default-int8-sample']['median_s']:.1f} s")
    write_result("backtranslate_speed", {"args": vars(args), "vocabulary": vocab, "machine": machine(), "results": results,
                                         "goal": "prefit >= 5x nlpaug", "met": results["prefit-ct2-int8"]["ratio_vs_nlpaug"] >= 5})


if __name__ == "__main__":
    main()
