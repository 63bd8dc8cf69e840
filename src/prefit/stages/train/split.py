"""A train/test split that does not leak: de-duplicate, then keep each group on one side.

DailyMed holds many manufacturers' copies of one drug's label, so the same paragraph occurs dozens
of times; a random split puts copies of a test paragraph in training and measures memory. Here:
1. de-duplicate by normalised text (case, spacing and punctuation ignored); copies that disagree
   on the label keep the most common one (ties: the first), and are counted. A null label means
   "unlabelled" (`score --extract-only` writes it where no heading names a topic): such copies do
   not vote, and a text with no labelled copy is left out of both sides and counted;
2. group by a field (e.g. `generic_names`; a list counts as one value); with drug names
   normalised (`normalise_groups="drug"`), salts, dosage forms and strengths are dropped and the
   ingredients sorted, so "METFORMIN ER 500 MG" and "METFORMIN HYDROCHLORIDE" are one group and
   "NAPROXEN + NAPROXEN SODIUM" is NAPROXEN. Exact copies are already merged by step 1, so no
   paragraph text can sit on both sides; a combination product is its own group;
3. split the groups: of 200 seeded draws of scikit-learn's GroupShuffleSplit, keep the one whose
   test side holds closest to `test_fraction` of the records overall and of every class (whole
   groups rarely allow an exact stratified split; this keeps the classes as even as they can be).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from prefit.drugs import canonical_drug
from prefit.errors import InputError
from prefit.jsonl import Fields, read_records, write_json_atomic, write_jsonl_atomic

log = logging.getLogger("prefit")


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def group_value(value, path, line: int, name: str) -> str:
    """A group key, upper-cased (a list: its items upper-cased, sorted and joined by " + "), so that
    "Sulindac", "SULINDAC" and ["Sulindac"] are one group; an empty value (a label that names no
    generic drug) is the group "(no NAME)"."""
    if isinstance(value, list):
        value = " + ".join(sorted(str(v).strip().upper() for v in value if str(v).strip()))
    if value is None or (isinstance(value, str) and not value.strip()):
        return f"(no {name})"
    if not isinstance(value, str | int):
        raise InputError(f"expected a string or a list of strings for the group, found {type(value).__name__}", file=path, line=line,
                         field=name)
    return str(value).strip().upper()


@dataclass
class SplitSummary:
    records_in: int
    distinct: int  # distinct labelled texts, the records of the split
    label_conflicts: int
    groups: int
    merged_groups: int  # groups after normalisation
    unlabelled: int = 0  # distinct texts left out: no copy has a label (null)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label -> records
    groups_per_split: dict[str, list[str]] = field(default_factory=dict)


UNFINISHED = ".split.unfinished"


def dedupe_and_split(path: str | Path, out_dir: str | Path, *, group_field: str | None, test_fraction: float = 0.2, seed: int = 0,
                     normalise_groups: str = "none", fields: Fields = Fields()) -> SplitSummary:
    """Write OUT_DIR/train.jsonl, OUT_DIR/test.jsonl and OUT_DIR/split.json."""

    records = read_records(path, fields, null_label=True)
    by_text: dict[str, list] = {}
    for r in records:
        by_text.setdefault(normalise(r.text), []).append(r)
    rows, conflicts, raw_groups, unlabelled = [], 0, set(), 0
    for key, all_copies in by_text.items():
        copies = [r for r in all_copies if r.label is not None]
        if not copies:
            unlabelled += 1
            continue
        labels = Counter(r.label for r in copies)
        label = max(labels, key=lambda lab: (labels[lab], -next(i for i, r in enumerate(copies) if r.label == lab)))
        conflicts += len(labels) > 1
        first = copies[0]
        row = dict(first.data)
        row.update({"id": hashlib.sha1(key.encode()).hexdigest()[:16], fields.text: first.text, fields.label: label, "copies": len(all_copies)})
        if group_field:
            # copies from several groups (the same text in two drugs' labels): the most common group, once
            names = [group_value(r.data[group_field], path, r.line, group_field) if group_field in r.data else
                     _missing(path, r.line, group_field) for r in copies]
            raw_groups.update(names)
            keys = Counter(canonical_drug(n) if normalise_groups == "drug" and not n.startswith("(no ") else n for n in names)
            row["group"] = max(keys, key=lambda k: (keys[k], k))
        rows.append(row)
    if not rows:
        raise InputError("no labelled records: every label is null", file=path, field=fields.label)
    n_groups = len(raw_groups) if group_field else len(rows)
    groups = [r["group"] for r in rows] if group_field else [r["id"] for r in rows]
    if len(set(groups)) < 2:
        raise InputError(f"{len(set(groups))} group: a grouped split needs at least 2", file=path)
    tr, te = balanced_group_split([r[fields.label] for r in rows], groups, test_fraction, seed)
    out = Path(out_dir)
    # split.json is the split's commit mark: removed first, written last, so that a split killed
    # half-way (new train, old test) is never taken for a finished one. UNFINISHED marks the files
    # as this split's while it writes them: a re-run after a kill may replace them without --overwrite.
    out.mkdir(parents=True, exist_ok=True)
    (out / UNFINISHED).touch()
    (out / "split.json").unlink(missing_ok=True)
    summary = SplitSummary(len(records), len(rows), conflicts, n_groups, len(set(groups)), unlabelled)
    for name, idx in (("train", sorted(tr)), ("test", sorted(te))):
        part = [rows[i] for i in idx]
        write_jsonl_atomic(out / f"{name}.jsonl", part)
        summary.counts[name] = dict(sorted(Counter(r[fields.label] for r in part).items()))
        summary.groups_per_split[name] = sorted({r["group"] for r in part}) if group_field else []
    from dataclasses import asdict

    write_json_atomic(out / "split.json", asdict(summary) | {"input": str(path), "group_field": group_field,
                                                             "test_fraction": test_fraction, "seed": seed})
    (out / UNFINISHED).unlink(missing_ok=True)
    return summary


def balanced_group_split(y: list[str], groups: list[str], fraction: float, seed: int, draws: int = 200):
    """(train indices, test indices): of `draws` seeded GroupShuffleSplit draws, the one whose test side is
    closest to `fraction` of all records and of each class."""
    import numpy as np
    from sklearn.model_selection import GroupShuffleSplit

    y_arr = np.asarray(y)
    classes = sorted(set(y))
    totals = {c: int((y_arr == c).sum()) for c in classes}
    best, best_cost = None, float("inf")
    try:
        splits = list(GroupShuffleSplit(n_splits=draws, test_size=fraction, random_state=seed).split(y_arr, y_arr, groups))
    except ValueError as e:  # e.g. a fraction that leaves no group for one side
        raise InputError(f"cannot split {len(set(groups))} groups with test fraction {fraction} ({e}); use a smaller "
                         "test fraction or more groups") from e
    for tr, te in splits:
        share = len(te) / len(y)
        cost = abs(share - fraction) + sum(abs(int((y_arr[te] == c).sum()) / totals[c] - fraction) for c in classes) / len(classes)
        if cost < best_cost:
            best, best_cost = (tr, te), cost
    return best


def _missing(path, line: int, name: str):
    raise InputError("missing (needed by `group_field=FIELD`)", file=path, line=line, field=name)
