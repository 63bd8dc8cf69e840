"""`train split`: de-duplication counts, and no group on both sides."""

import json

import pytest
from click.testing import CliRunner
from conftest import read_jsonl, write_jsonl

from prefit.cli.train import main as train
from prefit.stages.train.split import canonical_drug


def _rows():
    rows = []
    for d in range(10):
        drug = ["METFORMIN HYDROCHLORIDE", "METFORMIN ER 500 MG", "NAPROXEN", "NAPROXEN SODIUM", "CELECOXIB", "MELOXICAM",
                "SULINDAC", "ETODOLAC", "IBUPROFEN", "DICLOFENAC SODIUM AND MISOPROSTOL"][d]
        for k, lab in enumerate(["Absorption", "Distribution", "Other", "Other"]):
            text = f"Paragraph {k} about drug {d}: {lab.lower()} details."
            for copy in range(3):  # three manufacturers' copies, differing in case and spacing only
                rows.append({"text": text.upper() if copy == 1 else text.replace(" ", "  ") if copy == 2 else text, "label": lab,
                             "generic_names": [drug], "set_id": f"s{d}-{copy}"})
    rows.append({"text": "Paragraph 0 about drug 0: ABSORPTION details!", "label": "Other", "generic_names": ["METFORMIN"]})
    return rows


def test_canonical_drug_names():
    assert canonical_drug("METFORMIN ER 500 MG") == canonical_drug("METFORMIN HYDROCHLORIDE") == "METFORMIN"
    assert canonical_drug("DICLOFENAC SODIUM AND MISOPROSTOL") == "DICLOFENAC + MISOPROSTOL"
    assert canonical_drug("ASPIRIN AND EXTENDED-RELEASE DIPYRIDAMOLE") == canonical_drug("ASPIRIN-DIPYRIDAMOLE") == "ASPIRIN + DIPYRIDAMOLE"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dedupe_counts_and_no_group_on_both_sides(tmp_path, seed):
    src = write_jsonl(tmp_path / "paras.jsonl", _rows())
    out = tmp_path / "split"
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(out), "--group-field", "generic_names", "--group-normalise", "drug",
                                   "--test-fraction", "0.25", "--seed", str(seed)])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "split.json").read_text())
    assert (s["records_in"], s["distinct"], s["label_conflicts"], s["groups"], s["merged_groups"]) == (121, 40, 1, 11, 8)
    train_rows, test_rows = read_jsonl(out / "train.jsonl"), read_jsonl(out / "test.jsonl")
    assert len(train_rows) + len(test_rows) == 40 and test_rows
    assert not {r["group"] for r in train_rows} & {r["group"] for r in test_rows}
    assert not {r["text"].casefold() for r in train_rows} & {r["text"].casefold() for r in test_rows}
    conflicted = next(r for r in train_rows + test_rows if r["text"].startswith("Paragraph 0 about drug 0"))
    assert conflicted["label"] == "Absorption" and conflicted["copies"] == 4  # 3 say Absorption, 1 says Other
    assert "split\tAbsorption\tDistribution\tOther\ttotal\tgroups" in r.output
    again = tmp_path / "again"
    CliRunner().invoke(train, ["split", str(src), "-o", str(again), "--group-field", "generic_names", "--group-normalise", "drug",
                               "--test-fraction", "0.25", "--seed", str(seed), "-q"])
    assert read_jsonl(again / "test.jsonl") == test_rows  # seeded
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(out), "--group-field", "generic_names"])
    assert r.exit_code == 2 and "use --overwrite" in r.output


def test_split_without_group_field(tmp_path):
    """Found by the -q pass: without --group-field every record is its own group (it crashed)."""
    from click.testing import CliRunner

    from prefit.cli.train import main as train

    rows = [{"id": f"r{i}", "text": f"text number {i} about {lab}", "label": lab} for i, lab in enumerate(["a", "b"] * 20)]
    write_jsonl(tmp_path / "in.jsonl", rows)
    r = CliRunner().invoke(train, ["split", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "s"), "--test-fraction", "0.25"])
    assert r.exit_code == 0, r.output
    test = read_jsonl(tmp_path / "s" / "test.jsonl")
    train_ids = {x["id"] for x in read_jsonl(tmp_path / "s" / "train.jsonl")}
    assert len(test) == 10 and not train_ids & {x["id"] for x in test} and len(train_ids) == 30
    assert "split\ta\tb\ttotal\n" in r.output


def test_null_labels_are_left_out_and_counted_and_do_not_vote(tmp_path):
    """`score --extract-only` writes a null label where no heading names a topic. `train split`
    keeps such texts out of both sides and counts them; a text with a labelled copy keeps it."""
    rows = _rows()
    rows.append({"text": "Paragraph 1 about drug 3: distribution details.", "label": None, "generic_names": ["NAPROXEN SODIUM"]})
    rows += [{"text": f"No heading {k}.", "label": None, "generic_names": ["CELECOXIB"]} for k in range(3)]
    rows.append({"text": "no heading 0", "label": None, "generic_names": ["IBUPROFEN"]})  # a copy of the one above
    src = write_jsonl(tmp_path / "paras.jsonl", rows)
    out = tmp_path / "split"
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(out), "--group-field", "generic_names", "--group-normalise", "drug"])
    assert r.exit_code == 0, r.output
    s = json.loads((out / "split.json").read_text())
    assert (s["records_in"], s["distinct"], s["unlabelled"], s["label_conflicts"]) == (126, 40, 3, 1)
    assert "3 more without a label, left out" in r.output
    kept = read_jsonl(out / "train.jsonl") + read_jsonl(out / "test.jsonl")
    assert not any(x["text"].startswith("No heading") for x in kept)
    same = next(x for x in kept if x["text"].startswith("Paragraph 1 about drug 3"))
    assert same["label"] == "Distribution" and same["copies"] == 4  # 4 occurrences; the null one did not vote
    write_jsonl(src, [{"text": "a", "label": None}, {"text": "b", "label": None}])
    r = CliRunner().invoke(train, ["split", str(src), "-o", str(tmp_path / "none")])
    assert r.exit_code == 2 and "paras.jsonl" in r.output and "every label is null" in r.output
