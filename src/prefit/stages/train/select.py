"""Fair hyper-parameter selection: a validation split carved from the training file, never the test.

`train compare --select lr=3e-5,1e-4` trains every candidate value on the training file minus a
stratified (or, with a group field, grouped) validation split, scores it on that split, keeps the
best value per method, and only then trains the seeds on the full training file and evaluates on
`--eval`. Selection opens only the training and augmented files.

Augmented records made from a validation record (their `source_id`) are removed from the
selection's augmented set: otherwise stage 1 would train on paraphrases of the validation texts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

from prefit.errors import InputError
from prefit.jsonl import Fields, read_records, write_jsonl_atomic

log = logging.getLogger("prefit")

# Option name in --select -> RecipeOptions field, per kind of method.
SELECTABLE = {"lr": "stage2_lr", "epochs": "stage2_epochs", "stage1-lr": "stage1_lr", "c": "peer_c", "tfidf-weight": "tfidf_weight"}
PEER_PARAMS = {"c"}


@dataclass(frozen=True)
class ValidationSplit:
    train: str
    val: str
    augmented: str | None
    n_train: int
    n_val: int
    groups: int | None  # distinct groups in the validation split, when grouped


def parse_grid(specs: list[str]) -> dict[str, list[float]]:
    """["lr=1e-5,3e-5", "epochs=2,3"] -> {"lr": [1e-5, 3e-5], "epochs": [2, 3]}."""
    grid: dict[str, list[float]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or name not in SELECTABLE:
            raise InputError(f"`select=NAME=V1,V2,...` expects NAME one of {', '.join(SELECTABLE)}, found {spec!r}")
        try:
            vals = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise InputError(f"`select={name}=...`: expected numbers, found {values!r}") from None
        if name == "tfidf-weight":
            if not vals or any(not 0 <= v < 1 for v in vals):  # NaN fails both comparisons
                raise InputError(f"`select={name}=...`: expected numbers in [0, 1), found {values!r}")
        elif not vals or any(not (v > 0 and math.isfinite(v)) for v in vals):
            raise InputError(f"`select={name}=...`: expected positive finite numbers, found {values!r}")
        grid[name] = vals
    return grid


def method_grid(method: str, grid: dict[str, list[float]], is_peer: bool, has_stage1: bool) -> list[dict[str, float]]:
    """The candidate settings one method tries: the product of the grid entries that apply to it."""
    import itertools

    names = [n for n in grid if (n in PEER_PARAMS) == is_peer and (n != "stage1-lr" or has_stage1)]
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))] or [{}]


def apply(recipe_options, params: dict[str, float]):
    kw = {}
    for name, v in params.items():
        field = SELECTABLE[name]
        kw[field] = int(v) if field.endswith("epochs") else v
    return replace(recipe_options, **kw)


def tag(params: dict[str, float]) -> str:
    return "_".join(f"{k}-{v:g}" for k, v in params.items()) or "default"


def carve_validation(train_path: str, augmented_path: str | None, out_dir: Path, fields: Fields, *, fraction: float, seed: int,
                     group_field: str | None = None) -> ValidationSplit:
    """Write OUT_DIR/{train,val}.jsonl (and augmented.jsonl without the validation records' offspring)."""
    import numpy as np

    records = read_records(train_path, fields)
    y = [r.label for r in records]
    idx = np.arange(len(records))
    groups = None
    if group_field:
        missing = next((r for r in records if group_field not in r.data), None)
        if missing is not None:
            raise InputError("missing (needed by `group_field=FIELD`)", file=train_path, line=missing.line, field=group_field)
        from prefit.stages.train.split import balanced_group_split, group_value

        groups = [group_value(r.data[group_field], train_path, r.line, group_field) for r in records]
        if len(set(groups)) < 2:
            raise InputError(f"`group_field={group_field}`: a grouped validation split needs at least 2 groups", file=train_path)
        tr, va = balanced_group_split(y, groups, fraction, seed)
    else:
        from sklearn.model_selection import train_test_split

        try:
            tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=y)
        except ValueError as e:  # a class with one record cannot be stratified
            raise InputError(f"cannot carve a stratified validation split: {e}", file=train_path) from e
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out_dir / "train.jsonl", (records[i].data for i in sorted(tr)))
    write_jsonl_atomic(out_dir / "val.jsonl", (records[i].data for i in sorted(va)))
    aug_out = None
    if augmented_path:
        held = {records[i].id for i in va}
        aug = read_records(augmented_path, fields)
        kept = [r.data for r in aug if str(r.data.get("source_id", r.id)) not in held and r.id not in held]
        aug_out = str(out_dir / "augmented.jsonl")
        write_jsonl_atomic(aug_out, kept)
        log.info("selection: %d of %d augmented records kept (the rest derive from validation records)", len(kept), len(aug))
    return ValidationSplit(str(out_dir / "train.jsonl"), str(out_dir / "val.jsonl"), aug_out, len(tr), len(va),
                           len({groups[i] for i in va}) if groups else None)
