"""The real CTranslate2 engine on a tiny copy-trained Marian model (see conftest)."""

import json

import pytest
from click.testing import CliRunner
from conftest import read_jsonl

from prefit.cli.augment import main as aug
from prefit.stages.augment.backtranslate import BackTranslateBatch, BackTranslator, DecodingOptions

pytestmark = pytest.mark.slow


def _bt(models_dir, **kw):
    return BackTranslator({"de": (models_dir / "en-de", models_dir / "de-en")}, DecodingOptions(**kw))


def test_greedy_round_trip_copies_multi_sentence_text(models_dir):
    bt = _bt(models_dir, mode="greedy")
    text = "say full all. Bob vs divided flame only systems!\nhard problem degree"
    (trip,), = bt.back_translate([text], "de")
    assert trip.text == text  # sentences split, </s> appended, rejoined with their separators
    assert trip.pivot_text == text and not trip.truncated


def test_long_sentence_is_windowed_not_truncated(models_dir):
    bt = _bt(models_dir, mode="greedy", max_input_tokens=10)
    text = "hard problem degree those Tammy Has say full all not IBM brings Branch"
    fwd = bt.directions["de"][0]
    windows = fwd.tokenize(text, 10)
    assert len(windows) >= 3 and all(len(w) <= 10 for w in windows)
    assert all(w[0].startswith("▁") for w in windows)  # cut at word starts
    assert sum(windows, []) == fwd.sp_source.encode(text, out_type=str)
    (trip,), = bt.back_translate([text], "de")
    assert not trip.truncated
    # each window is translated and the pieces rejoined: every word comes back (the toy copy
    # model may misspell a word of an unusual fragment, so compare words loosely)
    same = sum(a == b for a, b in zip(trip.text.split(), text.split()))
    assert len(trip.text.split()) >= len(text.split()) - 1 and same >= len(text.split()) - 3


def test_truncation_is_flagged(models_dir):
    bt = _bt(models_dir, mode="greedy", max_decoding_length=3)
    (trip,), = bt.back_translate(["hard problem degree those Tammy Has"], "de")
    assert trip.truncated


def test_sampling_is_reproducible_for_a_seed(models_dir):
    bt = _bt(models_dir, sampling_temperature=2.0)
    texts = ["hard problem degree those Tammy Has", "Bob vs divided flame only systems"]
    a = bt.back_translate(texts, "de", 3, seed=11)
    b = bt.back_translate(texts, "de", 3, seed=11)
    c = bt.back_translate(texts, "de", 3, seed=12)
    assert a == b and a != c
    assert len(a) == 2 and all(len(row) == 3 for row in a)


def test_ray_style_batch_function(models_dir):
    fn = BackTranslateBatch({"de": (str(models_dir / "en-de"), str(models_dir / "de-en"))}, variants=2,
                            decoding=DecodingOptions(mode="greedy"))
    out = fn({"id": ["x", "y"], "text": ["say full all", "not IBM brings Branch"], "label": ["a", "b"]})
    assert out["source_id"] == ["x", "x", "y", "y"]
    # greedy with 2 variants returns the 2 best pivot hypotheses: the first is the exact copy
    assert out["text"][0] == "say full all" and out["text"][2] == "not IBM brings Branch"
    assert out["text"][1] != out["text"][0] and len(out["pivot_text"]) == 4
    assert out["label"] == ["a", "a", "b", "b"] and out["variant"] == [0, 1, 0, 1] and out["pivot"] == ["de"] * 4


def _run(args):
    return CliRunner().invoke(aug, args, catch_exceptions=False)


def _bt_args(inp, out, models_dir, *extra):
    return ["backtranslate", str(inp), "-o", str(out), "--models-dir", str(models_dir), "-q", *extra]


def test_balanced_corpus_with_provenance(imbalanced_jsonl, models_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    r = _run(_bt_args(imbalanced_jsonl, out, models_dir, "--temperature", "2", "--headroom", "2",
                      "--min-length-ratio", "0.2", "--max-length-ratio", "5"))
    assert r.exit_code == 0, r.output
    rows = read_jsonl(out)
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    per_class = {lab: sum(1 for x in rows if x["label"] == lab) for lab in "abc"}
    assert per_class == {"a": 8, "b": 8, "c": 8}, summary
    originals = {x["id"]: x for x in read_jsonl(imbalanced_jsonl)}
    new = [x for x in rows if x["augmenter"] == "backtranslate"]
    assert len(new) == 10
    for x in new:
        src = originals[x["source_id"]]
        assert x["label"] == src["label"] and x["source"] == "test"  # other fields carried
        assert x["pivot"] in ("de", "ru") and isinstance(x["variant"], int)
        assert x["id"] == f"{x['source_id']}/backtranslate-{x['pivot']}-{x['variant']}"
        assert x["text"].strip().lower() != src["text"].strip().lower()
    # no duplicates within a class, originals included
    for lab in "abc":
        texts = [" ".join(x["text"].lower().split()) for x in rows if x["label"] == lab]
        assert len(texts) == len(set(texts))
    assert {k: v["final"] for k, v in summary["classes"].items()} == {"a": 8, "b": 8, "c": 8}
    assert summary["classes"]["c"]["kept"] == 6 and summary["sentences"] > 0 and summary["sentences_per_second"] > 0
    gen = sum(c["generated"] for c in summary["classes"].values())
    kept = sum(c["kept"] for c in summary["classes"].values())
    assert gen == kept + sum(summary["dropped"].values()) + summary["surplus"]


@pytest.mark.parametrize(
    "extra,reason",
    [([], "identical"), (["--keep-identical", "--max-length-ratio", "0.9"], "length_ratio"),
     (["--keep-identical"], "duplicate")],
    ids=["identical", "length-ratio", "duplicate"],
)
def test_filters_counted(imbalanced_jsonl, models_dir, tmp_path, extra, reason):
    # Greedy decoding with the copy model reproduces its input exactly.
    out = tmp_path / "out.jsonl"
    r = _run(_bt_args(imbalanced_jsonl, out, models_dir, "--decoding", "greedy", "--pivot", "de", *extra))
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    generated = sum(c["generated"] for c in summary["classes"].values())
    assert generated > 0 and summary["dropped"] == {reason: generated}
    assert len(read_jsonl(out)) == 14  # only the originals survive
    assert summary["classes"]["c"]["short"] == 6


def test_none_balance_and_no_originals(imbalanced_jsonl, models_dir, tmp_path):
    out = tmp_path / "out.jsonl"
    r = _run(_bt_args(imbalanced_jsonl, out, models_dir, "--balance", "none", "--no-originals", "--pivot", "de",
                      "--variants", "2", "--temperature", "2", "--min-length-ratio", "0", "--max-length-ratio", "100"))
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert sum(c["generated"] for c in summary["classes"].values()) == 28
    rows = read_jsonl(out)
    assert rows and all(x["augmenter"] == "backtranslate" for x in rows)
    assert len(rows) == 28 - sum(summary["dropped"].values())


def test_resume_after_interruption_equals_uninterrupted_run(imbalanced_jsonl, models_dir, tmp_path, monkeypatch):
    args = ["--temperature", "2", "--chunk-size", "1", "--min-length-ratio", "0.2", "--max-length-ratio", "5"]
    full = tmp_path / "full.jsonl"
    assert _run(_bt_args(imbalanced_jsonl, full, models_dir, *args)).exit_code == 0

    from prefit.stages.augment import backtranslate

    real = backtranslate.BackTranslationAugmenter.generate
    calls = {"n": 0}

    def flaky(self, records, draws, seed):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        return real(self, records, draws, seed)

    part = tmp_path / "part.jsonl"
    monkeypatch.setattr(backtranslate.BackTranslationAugmenter, "generate", flaky)
    r = CliRunner().invoke(aug, _bt_args(imbalanced_jsonl, part, models_dir, *args))
    assert r.exit_code == 1 and "Aborted" in r.output  # click's answer to Ctrl-C
    assert not part.exists()
    assert len(list((tmp_path / "part.jsonl.parts").glob("chunk-*.json"))) == 3
    monkeypatch.setattr(backtranslate.BackTranslationAugmenter, "generate", real)
    r = _run(_bt_args(imbalanced_jsonl, part, models_dir, *args))
    assert r.exit_code == 0, r.output
    assert part.read_text() == full.read_text()
    assert json.loads((tmp_path / "part.summary.json").read_text())["resumed_chunks"] == 3
    assert not (tmp_path / "part.jsonl.parts").exists()
    # a finished output is not replaced without --overwrite
    r = CliRunner().invoke(aug, _bt_args(imbalanced_jsonl, part, models_dir, *args))
    assert r.exit_code == 2 and "use --overwrite" in r.output


def test_resume_refuses_different_arguments(imbalanced_jsonl, models_dir, tmp_path):
    out = tmp_path / "o.jsonl"
    (tmp_path / "o.jsonl.parts").mkdir()
    (tmp_path / "o.jsonl.parts" / "manifest.json").write_text('{"fingerprint": "other"}')
    r = CliRunner().invoke(aug, _bt_args(imbalanced_jsonl, out, models_dir))
    assert r.exit_code == 2 and "unfinished run with different arguments" in r.output


BAD = [
    ('{"id": "1", "text": "ok text", "label": "a"}\n{"id": "2", "text": "broken, "label": "a"}', 2, None, "invalid JSON"),
    ('{"id": "1", "text": "ok text", "label": "a"}\n{"id": "2", "label": "a"}', 2, "text", "missing"),
    ('{"id": "1", "text": "   ", "label": "a"}', 1, "text", "empty text"),
    ('{"id": "1", "text": "ok text", "label": "a"}\n\n{"id": "2", "text": "ok", "label": 3}', 3, "label", "expected a string label"),
    ('{"id": "1", "text": "ok text", "label": "a"}\n{"id": "2", "text": "ok", "label": null}', 2, "label", "an unlabelled record"),
    ('[1, 2]', 1, None, "expected a JSON object"),
]


@pytest.mark.parametrize("content,line,field,msg", BAD, ids=["broken-json", "missing-text", "empty-text", "int-label", "null-label", "not-object"])
@pytest.mark.parametrize("command", ["backtranslate", "eda"])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, models_dir, content, line, field, msg, command):
    inp = tmp_path / "bad.jsonl"
    inp.write_text(content + "\n")
    out = tmp_path / "out.jsonl"
    args = [command, str(inp), "-o", str(out), "-q"] + (["--models-dir", str(models_dir)] if command == "backtranslate" else [])
    r = CliRunner().invoke(aug, args)
    assert r.exit_code == 2
    first = r.output.strip().splitlines()
    assert len(first) == 1
    assert first[0].startswith(f"Error: {inp}:{line}: ")
    if field:
        assert f"field '{field}'" in first[0]
    assert msg in first[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_missing_model_is_a_clear_error(imbalanced_jsonl, tmp_path):
    r = CliRunner().invoke(aug, ["backtranslate", str(imbalanced_jsonl), "-o", str(tmp_path / "o.jsonl"), "--models-dir", str(tmp_path)])
    assert r.exit_code == 2
    assert f"Error: {tmp_path / 'en-de'}: translation model en-de not found" in r.output
    r = CliRunner().invoke(aug, ["backtranslate", str(imbalanced_jsonl), "-o", str(tmp_path / "o.jsonl")], env={"PREFIT_MODELS_DIR": None})
    assert r.exit_code == 2 and "pass --models-dir DIR" in r.output


def test_model_override_and_bad_override(imbalanced_jsonl, models_dir, tmp_path):
    out = tmp_path / "o.jsonl"
    r = _run(["backtranslate", str(imbalanced_jsonl), "-o", str(out), "-q", "--pivot", "de", "--decoding", "greedy", "--keep-identical",
              "--model", f"en-de={models_dir / 'en-ru'}", "--model", f"de-en={models_dir / 'ru-en'}", "--balance", "none",
              "--no-originals", "--overwrite"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "o.summary.json").read_text())
    assert summary["settings"]["augmenter"]["pivots"]["de"] == [str(models_dir / "en-ru"), str(models_dir / "ru-en")]
    # the copy model returned every input exactly: all 14 are duplicates of their originals
    assert summary["dropped"] == {"duplicate": 14} and read_jsonl(out) == []
    r = CliRunner().invoke(aug, ["backtranslate", str(imbalanced_jsonl), "-o", str(out), "--model", "en-de"])
    assert r.exit_code == 2 and "expected PAIR=PATH" in r.output


def test_models_convert_cli(copy_model_hf, tmp_path):
    out = tmp_path / "ct2"
    r = CliRunner().invoke(aug, ["models", "convert", str(copy_model_hf), str(out)])
    assert r.exit_code == 0, r.output
    assert {"model.bin", "source.spm", "target.spm", "config.json"} <= {p.name for p in out.iterdir()}
    r = CliRunner().invoke(aug, ["models", "convert", str(copy_model_hf), str(out)])
    assert r.exit_code == 2 and r.output == f"Error: {out}: already exists; use --overwrite to replace it\n"
    r = CliRunner().invoke(aug, ["models", "convert", str(copy_model_hf), str(out), "--force", "-q"])  # the hidden alias
    assert r.exit_code == 0 and r.output == ""
    bt = BackTranslator({"de": (out, out)}, DecodingOptions(mode="greedy"))
    assert bt.back_translate(["say full all"], "de")[0][0].text == "say full all"



def test_models_convert_takes_a_marian_npz(copy_model_hf, models_dir, tmp_path):
    """#35 item 6, the connected-machine path offline: a model as Marian saves it (.npz + YAML or
    SentencePiece vocabulary, the layout of OPUS-MT's release zips and Firefox Translations' base
    students) converts to CTranslate2 and translates exactly as the same weights converted from
    the Hugging Face layout; an SSRU decoder is refused in one line that names the other engine."""
    import numpy as np
    import yaml
    from toy_models import marian_npz_from_hf

    npz = marian_npz_from_hf(copy_model_hf, tmp_path / "marian")
    out = tmp_path / "from-npz"
    r = CliRunner().invoke(aug, ["models", "convert", str(npz.parent), str(out), "-q"])  # .npz, vocab.yml, source/target.spm
    assert r.exit_code == 0, r.output
    assert {"model.bin", "source.spm", "target.spm", "config.json"} <= {p.name for p in out.iterdir()}
    texts = ["say full all", "not IBM brings Branch", "hard problem degree those Tammy Has"]
    ours = BackTranslator({"de": (out, out)}, DecodingOptions(mode="greedy")).back_translate(texts, "de")
    ref = _bt(models_dir, mode="greedy").back_translate(texts, "de")
    assert [v[0].text for v in ours] == [v[0].text for v in ref] == texts
    # A YAML vocabulary without the SentencePiece models beside it: say which are missing.
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("model.npz", "vocab.yml"):
        (bare / f).write_bytes((npz.parent / f).read_bytes())
    r = CliRunner().invoke(aug, ["models", "convert", str(bare), str(tmp_path / "y"), "-q"])
    assert r.exit_code == 2 and "give the SentencePiece models too (--source-spm PATH, --target-spm PATH)" in r.output
    # An SSRU decoder (Firefox Translations' tiny students) cannot be converted: one line, the other engine named.
    weights = dict(np.load(npz))
    cfg = yaml.safe_load(weights["special:model.yml"][:-1].tobytes())
    weights["special:model.yml"] = np.frombuffer(yaml.safe_dump(cfg | {"transformer-decoder-autoreg": "rnn"}).encode() + b"\0", dtype=np.int8)
    np.savez(tmp_path / "ssru.npz", **weights)
    r = CliRunner().invoke(aug, ["models", "convert", str(tmp_path / "ssru.npz"), str(tmp_path / "x"), "--vocab", str(npz.parent / "vocab.yml"),
                                 "--source-spm", str(npz.parent / "source.spm"), "--target-spm", str(npz.parent / "target.spm")])
    assert r.exit_code == 2 and "--engine bergamot" in r.output and len(r.output.splitlines()) == 1, r.output
    assert not (tmp_path / "x").exists()


def test_models_fetch_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = CliRunner().invoke(aug, ["models", "fetch", "en-de", "--models-dir", str(tmp_path)])
    assert r.exit_code == 2
    assert "could not download Helsinki-NLP/opus-mt-en-de" in r.output and "connected machine" in r.output
    assert list(tmp_path.iterdir()) == []


def test_copy_model_weights_do_not_depend_on_the_callers_thread_count(tmp_path):
    """The fixture's copy model must be the same under OMP_NUM_THREADS=1 and 2 (CI and bench runs
    differ), or its exact-copy assertions pass under one and fail under the other."""
    import torch
    from conftest import short_sentences
    from safetensors.torch import load_file
    from toy_models import MarianShape, build_marian

    lines = short_sentences(200, 0)
    shape = MarianShape(d_model=32, layers=1, heads=2, ffn_dim=64, vocab_size=200)
    before = torch.get_num_threads()
    weights = []
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            build_marian(tmp_path / str(n), lines, shape, copy_train_steps=30)
            assert torch.get_num_threads() == n  # the caller's setting is restored
            weights.append(load_file(tmp_path / str(n) / "model.safetensors"))
    finally:
        torch.set_num_threads(before)
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
