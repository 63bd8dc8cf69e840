"""Defects of the third adversarial pass: each test failed before its fix."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SPL_DIR, separable_rows, write_jsonl

from prefit.cli.score import main as score
from prefit.cli.train import main as train
from prefit.errors import InputError

GOOD_XML = sorted(SPL_DIR.glob("*.xml"))[0]


def _one_line_error(output: str) -> str:
    errors = [x for x in output.splitlines() if x.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


# --- model folders: no code runs, no pickle is read --------------------------------------------


def test_a_model_folder_with_remote_code_is_refused_even_when_stdin_says_yes(trained_run, tmp_path):
    """A config.json with an unknown model_type and an auto_map made transformers ask on stdin
    whether to run the folder's modeling_*.py; "y" ran it."""
    run = shutil.copytree(trained_run, tmp_path / "run")
    marker = tmp_path / "PWNED"
    cfg_path = run / "model" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_type"] = "evilmodel"
    cfg["auto_map"] = {name: "modeling_evil.EvilModel" for name in ("AutoConfig", "AutoModel", "AutoModelForSequenceClassification")}
    cfg_path.write_text(json.dumps(cfg))
    (run / "model" / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "Metformin is excreted unchanged in the urine."}])
    r = CliRunner().invoke(score, ["--model", str(run), str(texts), "-o", str(tmp_path / "out.jsonl"), "-q"], input="y\ny\n")
    assert r.exit_code == 2, r.output
    assert "could not load" in _one_line_error(r.output)
    assert not marker.exists()


def test_pickled_weights_are_refused_not_unpickled(trained_run, tmp_path):
    """A run whose weights are pytorch_model.bin (a pickle) gave a 54-line traceback from torch.load."""
    import pickle

    run = shutil.copytree(trained_run, tmp_path / "run")
    for f in (run / "model").glob("*.safetensors"):
        f.unlink()
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (run / "model" / "pytorch_model.bin").write_bytes(pickle.dumps(Payload()))
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "Metformin is excreted unchanged in the urine."}])
    r = CliRunner().invoke(score, ["--model", str(run), str(texts), "-o", str(tmp_path / "out.jsonl"), "-q"])
    assert r.exit_code == 2, r.output
    assert "pickle weights such as pytorch_model.bin are refused" in _one_line_error(r.output)
    assert not marker.exists()


@pytest.fixture(scope="module")
def tfidf_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("peer")
    train_p = write_jsonl(d / "train.jsonl", separable_rows(12, 3))
    out = d / "run"
    r = CliRunner().invoke(train, ["tfidf-lr", "--train", str(train_p), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


def _damage_settings(key: str, value):
    def damage(model: Path) -> None:
        s = json.loads((model / "peer.json").read_text())
        s["tfidf"][key] = value
        (model / "peer.json").write_text(json.dumps(s))
    return damage


def _damage_arrays(name: str, change):
    def damage(model: Path) -> None:
        from safetensors.numpy import load_file, save_file

        arrays = load_file(str(model / "peer.safetensors"))
        arrays[name] = change(arrays[name])
        save_file(arrays, str(model / "peer.safetensors"))
    return damage


def _damage_labels(value):
    def damage(model: Path) -> None:
        lm = json.loads((model / "label_map.json").read_text())
        lm["labels"] = value
        (model / "label_map.json").write_text(json.dumps(lm))
    return damage


def _shift_vocabulary(model: Path) -> None:
    s = json.loads((model / "peer.json").read_text())
    s["tfidf"]["vocabulary"] = {t: i + 1 for t, i in s["tfidf"]["vocabulary"].items()}
    (model / "peer.json").write_text(json.dumps(s))


@pytest.mark.parametrize(("damage", "named"), [
    (_damage_labels(None), "label_map.json: field 'labels'"),
    (_damage_labels([None, 3, "x"]), "label_map.json: field 'labels'"),
    (_damage_settings("norm", "l7"), "peer.json: field 'tfidf'"),
    (_shift_vocabulary, "peer.json: field 'tfidf'"),
    (_damage_arrays("idf", lambda a: a[:-1]), "peer.safetensors: field 'idf'"),
    (_damage_arrays("coef", lambda a: np.full_like(a, np.nan)), "peer.safetensors: damaged peer model: coef or intercept is not finite"),
    (_damage_arrays("classes", lambda a: a + 5), "peer.safetensors: field 'classes'"),
], ids=["no-labels", "null-label", "norm", "vocabulary", "idf", "nan", "classes"])
def test_a_damaged_peer_folder_is_one_line_not_a_traceback(tfidf_run, tmp_path, damage, named):
    run = shutil.copytree(tfidf_run, tmp_path / "run")
    damage(run / "model")
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "absorption text"}])
    r = CliRunner().invoke(score, ["--model", str(run), str(texts), "-o", str(tmp_path / "out.jsonl"), "-q"])
    assert r.exit_code == 2, r.output
    assert named in _one_line_error(r.output)
    assert not (tmp_path / "out.jsonl").exists()


def test_the_undamaged_peer_still_scores(tfidf_run, tmp_path):
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "absorption text"}])
    r = CliRunner().invoke(score, ["--model", str(tfidf_run), str(texts), "-o", str(tmp_path / "out.jsonl"), "-q"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "out.jsonl").read_text())["predicted_label"] in json.loads(
        (tfidf_run / "model" / "label_map.json").read_text())["labels"]


# --- archives: one bad member is skipped, the rest are scored ------------------------------------


def _corrupt_deflate(path: Path) -> Path:
    body = GOOD_XML.read_bytes() * 20
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a_corrupt.xml", body)
    data = bytearray(path.read_bytes())
    start = len("a_corrupt.xml") + 30 + 40  # into the deflate stream of the one member
    for i in range(start, start + 36):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))
    return path


def _flagged(path: Path, flag: int = 0, method: int | None = None, name: str = "a.xml") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name, GOOD_XML.read_bytes())
    data = bytearray(path.read_bytes())
    for sig, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):  # local header, central directory
        at = data.index(sig)
        data[at + flag_at] |= flag
        if method is not None:
            data[at + method_at:at + method_at + 2] = method.to_bytes(2, "little")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(("make", "reason"), [
    (_corrupt_deflate, "unreadable archive member"),
    (lambda p: _flagged(p, flag=1), "member is encrypted"),
    (lambda p: _flagged(p, method=9), "compression method 9"),
], ids=["corrupt-deflate", "encrypted", "deflate64"])
def test_a_damaged_archive_member_is_skipped_and_the_good_label_scored(tmp_path, make, reason):
    """zlib.error, an encrypted member and an unsupported compression method each sank the whole
    job with no output (the error named neither archive nor member)."""
    bad = make(tmp_path / "bad.zip")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(score, ["--extract-only", str(GOOD_XML), str(bad), "-o", str(out), "-q"])
    assert r.exit_code == 1, r.output
    line = _one_line_error(r.output)
    assert "bad.zip!a" in line and reason in line and line.endswith("(skipped)")
    assert out.exists() and out.read_text().strip()


def test_a_member_name_cannot_fake_another_error_line(tmp_path):
    bad = _flagged(tmp_path / "bad.zip", flag=1, name="evil\nError: fake.xml")
    r = CliRunner().invoke(score, ["--extract-only", str(GOOD_XML), str(bad), "-o", str(tmp_path / "out.jsonl"), "-q"])
    assert r.exit_code == 1
    assert "evil\\nError: fake.xml" in _one_line_error(r.output)


def test_a_missing_label_input_is_exit_2_before_any_work(tmp_path):
    r = CliRunner().invoke(score, ["--extract-only", str(GOOD_XML), str(tmp_path / "nope.xml"), "-o", str(tmp_path / "out.jsonl")])
    assert r.exit_code == 2
    assert "nope.xml: no such file or directory" in _one_line_error(r.output)
    assert not (tmp_path / "out.jsonl").exists()


# --- records files ------------------------------------------------------------------------------


def test_a_corrupt_parquet_page_names_the_file_and_row(tmp_path):
    """Only opening the file was guarded; a damaged data page raised OSError from pyarrow."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from prefit.jsonl import iter_objects

    path = tmp_path / "t.parquet"
    texts = [f"text number {i} " + "word " * (i % 50) for i in range(20_000)]
    pq.write_table(pa.table({"text": texts, "label": ["a"] * len(texts)}), path, compression="snappy", row_group_size=5_000)
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 200] = bytes(b ^ 0x5A for b in data[mid:mid + 200])
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as e:
        for _ in iter_objects(path):
            pass
    assert str(path) in str(e.value) and "cannot read Parquet" in str(e.value)


def test_an_endless_line_stops_at_the_line_limit(tmp_path, monkeypatch):
    """A gzip bomb of one line grew to 1.65 GB before a MemoryError traceback."""
    import gzip

    import prefit.jsonl as jsonl

    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 1 << 16)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(b'{"text": "ok", "label": "a"}\n' + b'{"text": "' + b"x" * (1 << 20) + b'"}\n')
    with pytest.raises(InputError, match="line longer than") as e:
        list(jsonl.iter_objects(path))
    assert e.value.line == 2


def test_a_jsonl_with_a_utf8_bom_reads_like_a_csv_with_one(tmp_path):
    from prefit.jsonl import iter_objects

    path = tmp_path / "bom.jsonl"
    path.write_bytes("\ufeff".encode() + b'{"text": "t", "label": "a"}\n')
    assert [o for _, o in iter_objects(path)] == [{"text": "t", "label": "a"}]


# --- outputs ------------------------------------------------------------------------------------


def test_a_killed_commit_leaves_no_temporary_file_behind_after_the_re_run(tmp_path):
    """The staged output is written through its own temporary file (..OUT.commit.tmp.X.tmp), which
    the stale-temp sweep did not match: a full-size copy of OUT stayed for good."""
    out = tmp_path / "out.jsonl"
    stale = tmp_path / f"..{out.name}.commit.tmp.abcd1234.tmp"
    stale.write_text("half of an output")
    r = CliRunner().invoke(score, ["--extract-only", str(GOOD_XML), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.jsonl.state.json"]


def test_a_killed_split_is_redone_by_a_plain_re_run_but_foreign_files_are_kept(tmp_path):
    """After a kill between train.jsonl and split.json, the same command was refused ("a split is
    already there") though nothing finished; files prefit did not write must still be refused."""
    rows = [dict(r, drug=f"d{i % 5}") for i, r in enumerate(separable_rows(10, 2))]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "split"
    out.mkdir()
    (out / "train.jsonl").write_text("half\n")
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(out), "--group-field", "drug", "-q"])
    assert r.exit_code == 2 and "already there" in r.output  # not ours: kept
    assert (out / "train.jsonl").read_text() == "half\n"
    (out / ".split.unfinished").touch()  # what a split killed while writing leaves
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(out), "--group-field", "drug", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "split.json").exists() and not (out / ".split.unfinished").exists()
    assert len((out / "train.jsonl").read_text().splitlines()) + len((out / "test.jsonl").read_text().splitlines()) == len(rows)


# --- second pass: aug, train and the Python API -------------------------------------------------


def test_group_keys_ignore_case_for_plain_values_as_for_lists(tmp_path):
    """"Sulindac" and ["Sulindac"] were two groups, so one drug could land on both sides of a split."""
    from prefit.stages.train.split import group_value

    assert group_value("Sulindac", "f", 1, "g") == group_value(["Sulindac"], "f", 2, "g") == group_value(" SULINDAC ", "f", 3, "g")
    rows = [dict(r, drug=("Sulindac" if i % 2 else ["sulindac"]) if i % 3 == 0 else f"d{i % 4}")
            for i, r in enumerate(separable_rows(12, 4))]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(tmp_path / "s"), "--group-field", "drug", "-q"])
    assert r.exit_code == 0, r.output
    sides = json.loads((tmp_path / "s" / "split.json").read_text())["groups_per_split"]
    assert not set(sides["train"]) & set(sides["test"])
    assert "SULINDAC" in set(sides["train"]) | set(sides["test"])


def test_summary_final_counts_what_the_output_holds_without_originals(tmp_path):
    from prefit.cli.augment import main as aug

    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(0, 5, {"absorption": 12, "metabolism": 4, "excretion": 3}))
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(out), "--no-originals", "-q"])
    assert r.exit_code == 0, r.output
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    held = {}
    for row in map(json.loads, out.read_text().splitlines()):
        held[row["label"]] = held.get(row["label"], 0) + 1
    assert {k: v["final"] for k, v in summary["classes"].items() if v["final"]} == held
    assert summary["records_out"] == sum(held.values())


def test_aug_imbalance_refuses_an_output_it_would_not_write_in_that_format(tmp_path):
    from prefit.cli.augment import main as aug

    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(6, 6))
    r = CliRunner().invoke(aug, ["imbalance", str(src), "-o", str(tmp_path / "o.parquet"), "--kind", "step", "--ratio", "0.5"])
    assert r.exit_code == 2 and "*.jsonl" in _one_line_error(r.output)
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("args", [
    ["aug", "eda", "--headroom", "inf"], ["aug", "eda", "--headroom", "nan"], ["train", "tfidf-lr", "--peer-c", "nan"],
    ["train", "tfidf-lr", "--seed", "-5"], ["train", "tfidf-lr", "--seed", "99999999999999999999"],
])
def test_out_of_range_numbers_are_usage_errors_not_tracebacks(tmp_path, args):
    from prefit.cli.augment import main as aug

    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(6, 7))
    cmd, rest = (aug, args[1:]) if args[0] == "aug" else (train, args[1:])
    io = [str(src), "-o", str(tmp_path / "o.jsonl")] if args[0] == "aug" else ["--train", str(src), "-o", str(tmp_path / "run")]
    r = CliRunner().invoke(cmd, [rest[0], *io, *rest[1:]])
    assert r.exit_code == 2 and "Traceback" not in r.output and r.exception is not None and isinstance(r.exception, SystemExit), r.output
    assert "Invalid value for '--" in r.output


def test_tfidf_lr_on_texts_with_no_common_word_is_one_line(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "alpha", "label": "a"}, {"text": "beta", "label": "b"}])
    r = CliRunner().invoke(train, ["tfidf-lr", "--train", str(src), "-o", str(tmp_path / "run")])
    assert r.exit_code == 2
    assert "no TF-IDF term" in _one_line_error(r.output)


@pytest.mark.parametrize(("field", "value"), [("train", 5), ("eval", ["a"]), ("augmented", 5), ("seed", -3)])
def test_a_run_json_with_a_wrong_type_is_refused_naming_the_field(tfidf_run, tmp_path, field, value):
    cfg = json.loads((tfidf_run / "run.json").read_text())
    cfg["run"][field] = value
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    r = CliRunner().invoke(train, ["tfidf-lr", "--config", str(tmp_path / "run.json"), "-o", str(tmp_path / "again")])
    assert r.exit_code == 2
    assert f"field 'run.{field}'" in _one_line_error(r.output)
    assert not (tmp_path / "again").exists()


def test_api_train_checks_its_arguments_before_any_work(tmp_path, monkeypatch):
    import prefit

    monkeypatch.chdir(tmp_path)
    pairs = [(r["text"], r["label"]) for r in separable_rows(6, 8)]
    for kwargs, message in (({"output": None}, "output: expected a folder path"), ({"output": "r", "seed": -1}, "seed:"),
                            ({"output": "r", "method": "bogus"}, "tfidf-lr")):
        with pytest.raises(InputError, match=message):
            prefit.train(kwargs.pop("method", "tfidf-lr"), train=pairs, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_api_dataframe_gaps_in_unused_columns_train_and_bad_rows_name_the_parameter(tmp_path):
    pd = pytest.importorskip("pandas")
    import prefit

    rows = separable_rows(6, 9)
    df = pd.DataFrame({"text": [r["text"] for r in rows], "label": [r["label"] for r in rows],
                       "note": [None if i % 2 else 1.5 for i in range(len(rows))]})
    df.loc[3, "note"] = float("nan")
    assert prefit.train("tfidf-lr", train=df, output=tmp_path / "ok").metrics is not None
    df.loc[4, "text"] = None
    with pytest.raises(InputError) as e:
        prefit.train("tfidf-lr", train=df, output=tmp_path / "bad")
    assert str(e.value).startswith("train[4]: field 'text'"), str(e.value)


def test_api_classlabel_minus_one_is_no_label_not_the_last_name(tmp_path):
    datasets = pytest.importorskip("datasets")
    from prefit.api import _rows

    ds = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, -1]},
                                    features=datasets.Features({"text": datasets.Value("string"),
                                                                "label": datasets.ClassLabel(names=["x", "y"])}))
    assert [r["label"] for r in _rows(ds, "train", "text", "label")] == ["x", None]


def test_api_predict_on_no_texts_is_empty_and_augment_checks_variants(tfidf_run, tmp_path):
    import prefit

    clf = prefit.Classifier.load(tfidf_run)
    assert clf.predict([]) == [] and clf.predict_proba([]).shape == (0, len(clf.labels))
    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(6, 10))
    for kwargs in ({"variants": 0}, {"variants": 1.5}, {"seed": "x"}, {"method": "backtranslate", "engine": "bogus"}):
        with pytest.raises(InputError):
            prefit.augment(src, tmp_path / "o.jsonl", **kwargs)
    assert not (tmp_path / "o.jsonl.parts").exists()


def test_grouped_cv_names_a_label_no_training_side_would_see_before_any_fold(tmp_path):
    """A class in one group failed fold K's run, naming the generated OUT/fold-K/test.jsonl."""
    rows = [dict(r, drug=f"d{i % 4}") for i, r in enumerate(separable_rows(8, 11))]
    rows.append({"text": "a lone excretion text", "label": "lonely", "drug": "d9"})
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "cv"
    r = CliRunner().invoke(train, ["compare", "--methods", "tfidf-lr", "--train", str(src), "--folds", "3", "--group-field", "drug",
                                   "-o", str(out), "-q"])
    assert r.exit_code == 2
    line = _one_line_error(r.output)
    assert line.startswith(f"Error: {src}: field 'drug': label 'lonely' occurs only in group(s) 'D9'"), line
    assert not list(out.glob("fold-*"))


def test_results_with_one_seed_are_strict_json(tmp_path):
    """An SEM of one value was written as a bare NaN, which strict JSON parsers refuse."""
    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(8, 12))
    ev = write_jsonl(tmp_path / "ev.jsonl", separable_rows(4, 13))
    out = tmp_path / "cmp"
    r = CliRunner().invoke(train, ["compare", "--methods", "tfidf-lr", "--seeds", "7", "--train", str(src), "--eval", str(ev),
                                   "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output

    def strict(text: str):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))

    strict((out / "results.json").read_text())


def test_scoring_a_scored_csv_again_writes_each_column_once(tfidf_run, tmp_path):
    """An input column prob_X gave a CSV header with prob_X twice."""
    import csv

    first = tmp_path / "first.csv"
    texts = write_jsonl(tmp_path / "texts.jsonl", [{"text": "absorption text"}, {"text": "metabolism words"}])
    assert CliRunner().invoke(score, ["--model", str(tfidf_run), str(texts), "-o", str(first), "-q"]).exit_code == 0
    again = tmp_path / "again.csv"
    r = CliRunner().invoke(score, ["--model", str(tfidf_run), str(first), "-o", str(again), "-q"])
    assert r.exit_code == 0, r.output
    header = next(csv.reader(again.open()))
    assert len(header) == len(set(header)) and any(h.startswith("prob_") for h in header)
    assert header == next(csv.reader(first.open()))


# --- third pass: export and score check a model as the other will --------------------------------


@pytest.fixture(scope="module")
def blended_run(trained_run, tiny_bert, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("blended") / "run"
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--train", str(trained_run.parent / "labelled.jsonl"), "-o", str(out),
                                   "--stage2-epochs", "1", "--max-length", "32", "--tfidf-weight", "0.5", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "model" / "tfidf").is_dir()
    return out


def _edit_label_map(run: Path, **changes) -> None:
    lm = run / "model" / "label_map.json"
    lm.write_text(json.dumps(json.loads(lm.read_text()) | changes))


@pytest.mark.parametrize(("damage", "named"), [
    (lambda run: shutil.rmtree(run / "model" / "tfidf"), "tfidf: expected the saved peer's"),
    (lambda run: _edit_label_map(run, tfidf_weight="x"), "field 'tfidf_weight'"),
    (lambda run: _edit_label_map(run, tfidf_weight=1.5), "field 'tfidf_weight'"),
    (lambda run: _edit_label_map(run, read="bogus"), "field 'read'"),
    (lambda run: _edit_label_map(run, max_length=10**9), "field 'max_length': 1000000000 tokens is more than the encoder reads"),
], ids=["no-tfidf", "weight-x", "weight-1.5", "read", "max-length"])
def test_export_refuses_what_score_would_refuse_in_one_line(blended_run, tmp_path, damage, named):
    """A blended run missing tfidf/ gave a FileNotFoundError traceback; a weight of 1.5 or a bogus
    reading exported fine, then `score --model EXPORT` refused the export."""
    run = shutil.copytree(blended_run, tmp_path / "run")
    damage(run)
    r = CliRunner().invoke(train, ["export", str(run), "-o", str(tmp_path / "exp")])
    assert r.exit_code == 2, r.output
    assert named in _one_line_error(r.output)
    assert not (tmp_path / "exp").exists()


def test_a_max_length_past_the_encoders_positions_is_refused_at_training_and_scoring(trained_run, tiny_bert, tmp_path):
    texts = write_jsonl(tmp_path / "t.jsonl", [{"text": "Metformin is excreted unchanged in the urine."}])
    r = CliRunner().invoke(train, ["vanilla", "--model", str(tiny_bert), "--train", str(trained_run.parent / "labelled.jsonl"),
                                   "-o", str(tmp_path / "r"), "--max-length", "200", "-q"])
    assert r.exit_code == 2 and "more than the encoder reads (max_position_embeddings 128)" in _one_line_error(r.output)
    run = shutil.copytree(trained_run, tmp_path / "run")
    _edit_label_map(run, max_length=200)
    r = CliRunner().invoke(score, ["--model", str(run), str(texts), "-o", str(tmp_path / "o.jsonl"), "-q"])
    assert r.exit_code == 2 and "label_map.json: field 'max_length'" in _one_line_error(r.output)


def test_an_export_whose_labels_repeat_is_refused(blended_run, tmp_path):
    """id2label {"0": "A", "1": "A", ...} scored with exit 0 and probabilities that lost a class."""
    exp = tmp_path / "exp"
    assert CliRunner().invoke(train, ["export", str(blended_run), "-o", str(exp), "-q"]).exit_code == 0
    cfg = json.loads((exp / "config.json").read_text())
    first = cfg["id2label"]["0"]
    cfg["id2label"]["1"] = first
    (exp / "config.json").write_text(json.dumps(cfg))
    texts = write_jsonl(tmp_path / "t.jsonl", [{"text": "Metformin is excreted unchanged in the urine."}])
    r = CliRunner().invoke(score, ["--model", str(exp), str(texts), "-o", str(tmp_path / "o.jsonl"), "-q"])
    assert r.exit_code == 2 and "config.json" in _one_line_error(r.output)


def test_classifier_refuses_blank_texts_as_score_does(trained_run):
    import prefit

    with pytest.raises(InputError, match=r"texts\[1\]: empty text"):
        prefit.Classifier.load(trained_run).predict(["Metformin is excreted.", "   "])


# --- fourth pass: back-translation jobs -----------------------------------------------------------


def test_a_parts_path_that_is_a_file_or_holds_foreign_files_is_refused_not_crashed_or_emptied(tmp_path):
    from prefit.cli.augment import main as aug

    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(0, 14, {"absorption": 8, "metabolism": 3}))
    out = tmp_path / "o.jsonl"
    parts = tmp_path / "o.jsonl.parts"
    parts.write_text("precious")
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(out), "-q"])
    assert r.exit_code == 2 and "is a file" in _one_line_error(r.output) and parts.read_text() == "precious"
    parts.unlink()
    parts.mkdir()
    (parts / "notes.txt").write_text("precious")
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(out), "-q"])
    assert r.exit_code == 2 and "files prefit did not write (notes.txt)" in _one_line_error(r.output)
    assert (parts / "notes.txt").read_text() == "precious"
    (parts / "notes.txt").unlink()
    (parts / "chunk-000000.json").write_text("{}")  # a run killed before its manifest: ours, redone
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert out.exists() and not parts.exists()


def test_a_summary_beside_no_output_is_not_replaced_without_overwrite(tmp_path):
    from prefit.cli.augment import main as aug

    src = write_jsonl(tmp_path / "in.jsonl", separable_rows(0, 15, {"absorption": 8, "metabolism": 3}))
    (tmp_path / "o.summary.json").write_text('{"mine": 1}')
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(tmp_path / "o.jsonl"), "-q"])
    assert r.exit_code == 2 and "o.summary.json is there and is no augmentation summary" in _one_line_error(r.output)
    assert json.loads((tmp_path / "o.summary.json").read_text()) == {"mine": 1}
    r = CliRunner().invoke(aug, ["eda", str(src), "-o", str(tmp_path / "o.jsonl"), "-q", "--overwrite"])
    assert r.exit_code == 0 and "classes" in json.loads((tmp_path / "o.summary.json").read_text())


def test_bergamot_keeps_a_segment_with_an_endless_word_instead_of_stalling():
    """One record of 2,000 letters with no space ran the raw engine for over 100 s."""
    from prefit.stages.augment.bergamot import MAX_WORD_CHARS, BergamotDirection

    class Engine:
        def translate(self, text):
            if any(len(w) > MAX_WORD_CHARS for w in text.split()):
                pytest.fail("an endless word reached the engine")
            return text.upper()

    d = BergamotDirection.__new__(BergamotDirection)
    d.native, d.threads = Engine(), 1
    long = "see " + "a" * 2000 + " here"
    assert d.translate(["plain words", long, "  "]) == ["PLAIN WORDS", long, ""]
