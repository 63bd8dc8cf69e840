"""Faults a batch tool must survive (issue #13): each test reproduces a defect found by an
adversarial pass over the commands, and pins the one-line error or the preserved work."""

from __future__ import annotations

import csv
import json
import os
import re
import stat

import pytest
from click.testing import CliRunner
from conftest import read_jsonl, write_jsonl

from prefit.cli.augment import main as aug
from prefit.errors import InputError
from prefit.jsonl import Fields, atomic_write, read_records, temp_files


def _eda(inp, out, *extra):
    return CliRunner().invoke(aug, ["eda", str(inp), "-o", str(out), "-q", *extra])


# --- aug: locking and resume --------------------------------------------------------------------

def test_second_run_on_the_same_output_is_refused_while_the_first_holds_the_lock(imbalanced_jsonl, tmp_path):
    from filelock import FileLock

    out = tmp_path / "c.jsonl"
    with FileLock(str(out) + ".lock", timeout=0):  # a first run, still going
        r = _eda(imbalanced_jsonl, out)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [f"Error: {out}: another run is writing this output (it holds c.jsonl.lock); "
                                             "wait for it to finish"]
    assert not out.exists() and not (tmp_path / "c.jsonl.parts").exists()
    assert _eda(imbalanced_jsonl, out).exit_code == 0  # released: the next run goes ahead
    assert not (tmp_path / "c.jsonl.lock").exists()


def test_parts_folder_without_manifest_is_never_trusted(imbalanced_jsonl, tmp_path):
    clean = tmp_path / "clean.jsonl"
    assert _eda(imbalanced_jsonl, clean, "--seed", "5").exit_code == 0
    out = tmp_path / "c.jsonl"
    assert _eda(imbalanced_jsonl, out, "--seed", "1").exit_code == 0
    finished = out.read_text()
    # A crashed concurrent run left its chunks (of another seed) without a manifest.
    parts = tmp_path / "c.jsonl.parts"
    parts.mkdir()
    stale = {"candidates": [{"record": 9, "text": "stale words from another seed", "pivot": None, "variant": 0}], "stats": {}}
    (parts / "chunk-000000.json").write_text(json.dumps(stale))
    r = _eda(imbalanced_jsonl, out, "--seed", "5")
    assert r.exit_code == 2 and "output already exists; use --overwrite" in r.output
    assert out.read_text() == finished  # not replaced without --overwrite
    out.unlink()
    assert _eda(imbalanced_jsonl, out, "--seed", "5").exit_code == 0
    assert out.read_text() == clean.read_text().replace("clean.jsonl", "c.jsonl")
    assert "stale words" not in out.read_text()


def test_a_plan_too_large_is_refused_before_any_work(imbalanced_jsonl, tmp_path):
    r = _eda(imbalanced_jsonl, tmp_path / "big.jsonl", "--balance", "10000000")
    assert r.exit_code == 2
    assert r.exit_code == 2 and len(r.output.splitlines()) == 1
    assert re.search(r"ask for 3\d,\d{3},\d{3} candidate records from 14 inputs, more than --max-records 1,000,000", r.output)
    assert not (tmp_path / "big.jsonl.parts").exists()


@pytest.mark.parametrize("flags", [("--headroom", "10000000"), ("--balance", "none", "--variants", "10000000")])
def test_headroom_and_variants_count_in_the_plan_size(imbalanced_jsonl, tmp_path, flags):
    """#37 item 13: the refusal counts what the job would generate (draws x outputs per draw x
    headroom), not only the records kept; before, these two allocated GBs before any refusal."""
    r = _eda(imbalanced_jsonl, tmp_path / "big.jsonl", *flags)
    assert r.exit_code == 2 and "candidate records from 14 inputs, more than --max-records 1,000,000" in r.output
    assert not (tmp_path / "big.jsonl.parts").exists() and not (tmp_path / "big.jsonl").exists()


def test_output_equal_to_input_is_refused_even_with_overwrite(imbalanced_jsonl):
    before = imbalanced_jsonl.read_text()
    r = _eda(imbalanced_jsonl, imbalanced_jsonl, "--overwrite")
    assert r.exit_code == 2 and "the output is the input file" in r.output
    assert imbalanced_jsonl.read_text() == before


def test_temporary_files_of_a_killed_run_are_removed_by_the_next(imbalanced_jsonl, tmp_path):
    out = tmp_path / "c.jsonl"
    left = tmp_path / ".c.jsonl.abc123.tmp"  # what a kill during final assembly leaves
    left.write_text('{"half": ')
    assert temp_files(out) == [left]
    assert _eda(imbalanced_jsonl, out).exit_code == 0
    assert temp_files(out) == [] and out.exists()


# --- atomic output ------------------------------------------------------------------------------

def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "a.txt") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_output_in_a_read_only_directory_is_one_line(imbalanced_jsonl, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = _eda(imbalanced_jsonl, ro / "out.jsonl")
    finally:
        ro.chmod(0o755)
    assert r.exit_code == 2 and r.output.startswith(f"Error: {ro / 'out.jsonl'}: cannot write here (Permission denied)")
    assert len(r.output.strip().splitlines()) == 1


def test_unwritable_output_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="cannot write here"):
        with atomic_write(blocker / "below" / "x.json") as fh:  # a parent that is a file
            fh.write("x")


# --- inputs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, message", [
    (b'{"id": 1, "text": "caf\xe9", "label": "a"}\n', "invalid UTF-8 (byte 23 of the line); save the file as UTF-8"),
    (b'{"id": 1, "text": "x", "label": "a", "score": NaN}\n', "invalid JSON (NaN is not a valid JSON number)"),
    (b'{"id": 1, "text": "x", "label": "a", "w": -Infinity}\n', "invalid JSON (-Infinity is not a valid JSON number)"),
], ids=["utf8", "nan", "infinity"])
def test_bad_bytes_and_numbers_are_located(tmp_path, raw, message):
    p = tmp_path / "in.jsonl"
    p.write_bytes(b'{"id": 0, "text": "fine", "label": "a"}\n' + raw)
    with pytest.raises(InputError) as e:
        read_records(p)
    assert e.value.format() == f"{p}:2: {message}"
    r = _eda(p, tmp_path / "o.jsonl")
    assert r.exit_code == 2 and r.output == f"Error: {p}:2: {message}\n"


ROWS = [{"id": "a1", "text": "first, with a comma", "label": "a"}, {"id": "b1", "text": 'a "quoted"\nsecond line', "label": "b"},
        {"id": "a2", "text": "third", "label": "a"}]


def _write(path, rows):
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix in (".csv", ".tsv"):
        with open(path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="," if path.suffix == ".csv" else "\t")
            w.writeheader()
            w.writerows(rows)
    else:
        write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("name", ["in.jsonl", "in.csv", "in.tsv", "in.parquet"])
def test_every_format_reads_the_same_records(tmp_path, name):
    recs = read_records(_write(tmp_path / name, ROWS))
    assert [(r.id, r.text, r.label) for r in recs] == [(r["id"], r["text"], r["label"]) for r in ROWS]


@pytest.mark.parametrize("name, where", [("in.csv", ":5"), ("in.parquet", ":3")])
def test_csv_and_parquet_errors_name_line_or_row(tmp_path, name, where):
    rows = [dict(r) for r in ROWS]
    rows[2]["text"] = "   "
    p = _write(tmp_path / name, rows)
    with pytest.raises(InputError) as e:
        read_records(p, Fields())
    assert e.value.format() == f"{p}{where}: field 'text': empty text"  # CSV: header is line 1, the second row spans lines 3-4


def test_csv_row_with_wrong_column_count(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("id,text,label\n1,hello,a\n2,too,many,cells\n")
    with pytest.raises(InputError) as e:
        read_records(p)
    assert e.value.format() == f"{p}:3: expected 3 columns (as in the header), found 4"


def test_unknown_extension_is_named(tmp_path):
    p = tmp_path / "in.xlsx"
    p.write_text("x")
    with pytest.raises(InputError, match=r"unknown input format '\.xlsx'"):
        read_records(p)


def test_aug_eda_reads_csv_and_writes_jsonl(tmp_path, imbalanced_jsonl):
    rows = read_jsonl(imbalanced_jsonl)
    from_csv = tmp_path / "from_csv.jsonl"
    assert _eda(_write(tmp_path / "in.csv", rows), from_csv).exit_code == 0
    from_jsonl = tmp_path / "from_jsonl.jsonl"
    assert _eda(imbalanced_jsonl, from_jsonl).exit_code == 0
    assert [(r["id"], r["text"]) for r in read_jsonl(from_csv)] == [(r["id"], r["text"]) for r in read_jsonl(from_jsonl)]
