"""Back-translation speed: prefit's CTranslate2 engine vs nlpaug's BackTranslationAug, same model.

A Marian model with OPUS-MT en-de's architecture (d_model 512, 6+6 layers, 8 heads, FFN 2048,
32k sentencepiece vocabulary trained on 20 Newsgroups; random weights, built locally because no
model can be downloaded here) serves as both en->de and de->en. 256 real 20 Newsgroups sentences
make a round trip. Equal work: greedy decoding, and exactly --tokens decoded tokens per sentence
on both legs for both engines (end-of-sentence is suppressed until then, decoding stops there).

The default decoding is timed at equal work too (seeded top-k sampling, one seed per chunk of
sentences, each chunk reloading both translators as the resumable job does, exactly --tokens per
leg), at the default --chunk-size and at the old default of 32. So is the default job path: what
`aug backtranslate --balance none --pivot de` runs (records read, sentences split, seeded
sampling, resumable chunks of --chunk-size draws written and assembled), on the same sentences as
records, with the int8 model as en-de and de-en and exactly --tokens per leg (random weights would
otherwise decode every sentence to the length cap); and, separately, what one translator reload
costs.

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
    from prefit.stages.augment.sentences import split_sentences

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

    from prefit.stages.augment.backtranslate import BackTranslator, DecodingOptions, EngineOptions
    from prefit.stages.augment.convert import convert_marian
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the toy Marian builder is test code
    from toy_models import OPUS_MT_SHAPE, build_marian

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

    # The default decoding at equal work: seeded top-k sampling (the CLI default), one seed per
    # chunk (each chunk reloads both translators, as the resumable job does), exactly L tokens per
    # leg like the rows above; at the default chunk size and at the old default of 32.
    from prefit.stages.augment.job import JobOptions

    sample = DecodingOptions(min_decoding_length=L, max_decoding_length=L, length_ratio_cap=1e6, max_input_tokens=512)
    bt = BackTranslator({"de": (variants["int8"], variants["int8"])}, sample, EngineOptions(device="cpu", compute_type="int8", intra_threads=0))
    for size in sorted({JobOptions().chunk_size, 32}, reverse=True):
        def chunked(bt=bt, size=size) -> None:
            for k in range(0, len(sents), size):
                bt.back_translate(sents[k:k + size], "de", seed=k)

        med, times = median_time(chunked, args.repeats)
        results[f"prefit-ct2-int8-sample-chunks-{size}"] = {"median_s": med, "times_s": times, "sentences_per_s": len(sents) / med,
                                                             "decoded_tokens_per_sentence": [L], "chunk_size": size}
        rows.append([f"prefit (int8, seeded sampling, chunks of {size})", len(sents), med, len(sents) / med, str(L)])

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

    # The default job path end to end, as `aug backtranslate --balance none --pivot de` runs it
    # (records read, sentences split, resumable chunks with their own seeds, filters, parts written
    # and assembled), with the CLI's default options except exactly L tokens per leg: random weights
    # would otherwise decode every sentence to the length cap, which measures the cap, not the job.
    from prefit.stages.augment.backtranslate import BackTranslationAugmenter
    from prefit.stages.augment.balance import BalancePolicy
    from prefit.stages.augment.filters import FilterOptions
    from prefit.stages.augment.job import run_job

    recs = work / "sents.jsonl"
    recs.write_text("".join(json.dumps({"id": i, "text": t, "label": "x"}) + "\n" for i, t in enumerate(sents)))
    job = JobOptions(balance=BalancePolicy.parse("none"), seed=0, progress=False)
    dirs = {"de": (str(variants["int8"]), str(variants["int8"]))}

    def end_to_end() -> None:
        for p in work.glob("job_out*"):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
        aug = BackTranslationAugmenter(dirs, 1, FilterOptions(), sample,
                                       EngineOptions(device="cpu", compute_type="int8", intra_threads=0))
        run_job(recs, work / "job_out.jsonl", aug, job)

    med, times = median_time(end_to_end, args.repeats)
    summary = json.loads((work / "job_out.summary.json").read_text())
    n_chunks = -(-len(sents) // job.chunk_size)
    results["prefit-job-int8-sample"] = {"median_s": med, "times_s": times, "sentences_per_s": len(sents) / med,
                                         "engine_sentences_per_s": summary["sentences_per_second"], "chunks": n_chunks,
                                         "decoded_tokens_per_sentence": [L], "records_out": summary["records_out"]}
    rows.append([f"prefit job path (aug backtranslate defaults, chunks of {job.chunk_size}, models loaded)", len(sents), med, len(sents) / med, str(L)])
    d = BackTranslator({"de": (variants["int8"], variants["int8"])}, DecodingOptions(), EngineOptions(device="cpu", compute_type="int8"))
    reload_s, _ = median_time(lambda: d.directions["de"][0].reseed(1), 5)
    results["translator_reload_s"] = reload_s

    base = results["nlpaug-transformers-fp32"]["sentences_per_s"]
    for r, k in zip(rows, [k for k in results if k != "translator_reload_s"]):
        r.append(results[k]["sentences_per_s"] / base)
        results[k]["ratio_vs_nlpaug"] = results[k]["sentences_per_s"] / base
    print(f"\nround trip en->de->en, {len(sents)} sentences, greedy, {L} tokens per leg, OPUS-MT en-de shape, vocabulary {vocab}")
    print_table(["engine", "sentences", "median s", "sentences/s", "tokens/leg", "x nlpaug"], rows)
    print(f"one translator reload: {reload_s:.2f} s; the default path reloads 2 per chunk ({n_chunks} chunks): "
          f"{2 * n_chunks * reload_s:.1f} s of its {results['prefit-job-int8-sample']['median_s']:.1f} s")
    write_result("backtranslate_speed", {"args": vars(args), "vocabulary": vocab, "machine": machine(), "results": results,
                                         "goal": "prefit >= 5x nlpaug", "met": results["prefit-ct2-int8"]["ratio_vs_nlpaug"] >= 5})


if __name__ == "__main__":
    main()
