"""prefit's Python API, the functions the command lines call (re-exported from `prefit`).

    import prefit

    aug = prefit.augment("train.jsonl", "augmented.jsonl", method="eda")            # or "backtranslate"
    result = prefit.train("two-stage", train=df, augmented=aug.output, output="run")  # files or in-memory data
    clf = prefit.Classifier.load("run")                                             # a run, an export or a peer
    clf.predict(["Metformin is excreted unchanged in the urine."])                  # -> ["Excretion"]
    prefit.export("run", "export", int8=True)
    prefit.score_labels(["labels.zip"], "adme.jsonl", model="export")

Errors about the caller's input are `prefit.InputError` and name the parameter.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from prefit.errors import MAX_SEED, InputError, is_seed
from prefit.model.classifier import Classifier


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    metrics: dict  # metrics.json: empty of scores when trained without `eval`

    def load(self, device: str = "auto") -> Classifier:
        return Classifier.load(self.run_dir, device)


def train(method: str, train: Any, eval: Any = None, *, output: str | Path, augmented: Any = None, seed: int = 42,
          text_field: str = "text", label_field: str = "label", overwrite: bool = False, progress: bool = True,
          **options: Any) -> TrainResult:
    """Train `method` (two-stage, vanilla, oversample, lpft, tfidf-lr, probe) into the run folder
    `output`. `train`, `eval` and `augmented` are each a records file (.jsonl, .csv, .tsv,
    .parquet) or in-memory data: a pandas DataFrame, a `datasets.Dataset` (integer ClassLabel
    labels become their names), a list of (text, label) pairs or of dicts, or a dict of columns.
    Without `eval`, a final model is trained on all of `train`. `options` are RunConfig fields
    (max_length, model, pooling, read, device, ...) or RecipeOptions fields (stage2_lr,
    stage2_epochs, wise_alpha, batch_size, ...)."""
    from prefit.jsonl import Fields
    from prefit.model.peer_store import PEERS
    from prefit.stages.train.recipes import METHODS, RecipeOptions
    from prefit.stages.train.run import RunConfig, run

    if not isinstance(method, str) or method.partition("+")[0] not in METHODS + PEERS:
        raise InputError(f"method: expected one of {', '.join(METHODS + PEERS)}, found {method!r}")
    if not isinstance(output, (str, Path)) or not str(output):
        raise InputError(f"output: expected a folder path, found {output!r}")
    _check_seed(seed)
    run_keys = {f.name for f in fields(RunConfig)} - {"method", "train", "eval", "output", "augmented", "seed", "fields", "recipe",
                                                      "overwrite", "progress"}
    recipe_keys = {f.name for f in fields(RecipeOptions)}
    unknown = sorted(set(options) - run_keys - recipe_keys)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(unknown)}; expected RunConfig fields ({', '.join(sorted(run_keys))}) or "
                         f"RecipeOptions fields ({', '.join(sorted(recipe_keys))})")
    try:
        recipe = replace(RecipeOptions(), **{k: v for k, v in options.items() if k in recipe_keys})
    except ValueError as e:
        raise InputError(str(e)) from e
    with tempfile.TemporaryDirectory(prefix="prefit-data-") as tmp:
        paths = {name: _as_file(data, Path(tmp) / f"{name}.jsonl", name, text_field, label_field)
                 for name, data in (("train", train), ("eval", eval), ("augmented", augmented))}
        cfg = RunConfig(method=method, train=paths["train"], eval=paths["eval"], output=str(output), augmented=paths["augmented"],
                        seed=seed, fields=Fields(text_field, label_field), recipe=recipe, overwrite=overwrite, progress=progress,
                        **{k: v for k, v in options.items() if k in run_keys})
        try:
            metrics = run(cfg)
        except InputError as e:  # name the parameter and row, not the temporary file they were written to
            name = next((n for n, p in paths.items() if p is not None and e.file == p and p.startswith(tmp)), None)
            if name is None:
                raise
            raise InputError(e.message, file=name if e.line is None else f"{name}[{e.line - 1}]", field=e.field) from e
    return TrainResult(Path(output), metrics)


def _check_seed(seed: Any) -> None:
    if not is_seed(seed):
        raise InputError(f"seed: expected an integer in 0..{MAX_SEED}, found {seed!r}")


def _as_file(data: Any, path: Path, name: str, text_field: str, label_field: str) -> str | None:
    """A records file for `data`: a path is used as it is; in-memory data is written as JSONL."""
    if data is None:
        return None
    if isinstance(data, (str, Path)):
        return str(data)
    rows = _rows(data, name, text_field, label_field)
    if not rows:
        raise InputError(f"{name}: no records")
    with open(path, "w", encoding="utf-8") as fh:
        for i, row in enumerate(rows):
            fh.write(json.dumps({"id": str(row.get("id", i)), **row}, ensure_ascii=False, default=str) + "\n")
    return str(path)


def _rows(data: Any, name: str, text_field: str, label_field: str) -> list[dict]:
    if hasattr(data, "features") and hasattr(data, "to_list"):  # datasets.Dataset
        names = getattr(data.features.get(label_field), "names", None)
        rows = data.to_list()
        if names:  # ClassLabel: -1 means "no label" (null), not the last name
            rows = [{**r, label_field: names[r[label_field]] if isinstance(r[label_field], int) and r[label_field] >= 0 else None}
                    for r in rows]
        return rows
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        # missing cells (NaN, None, NaT) become null: JSON has no NaN, and a gap in a column the
        # run does not read must not fail it
        return data.astype(object).where(data.notna(), None).to_dict("records")
    if isinstance(data, dict):
        cols = {k: list(v) for k, v in data.items()}
        n = {len(v) for v in cols.values()}
        if len(n) != 1:
            raise InputError(f"{name}: columns of different lengths ({', '.join(f'{k} {len(v)}' for k, v in cols.items())})")
        return [dict(zip(cols, vals)) for vals in zip(*cols.values())]
    if isinstance(data, (list, tuple)):
        rows = []
        for i, item in enumerate(data):
            if isinstance(item, dict):
                rows.append(item)
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                rows.append({text_field: item[0], label_field: item[1]})
            else:
                raise InputError(f"{name}[{i}]: expected a (text, label) pair or a dict, found {type(item).__name__}")
        return rows
    raise InputError(f"{name}: expected a file path, a DataFrame, a datasets.Dataset, a list or a dict of columns, "
                     f"found {type(data).__name__}")


def augment(input: str | Path, output: str | Path, *, method: str = "eda", variants: int = 1, seed: int = 13, overwrite: bool = False,
            progress: bool = True, pivots: tuple[str, ...] = ("pt",), engine: str = "bergamot", threads: int = 1,
            models: dict[str, tuple[str, str]] | None = None):
    """A class-balanced augmented corpus of `input` (originals included) in `output`; returns the job summary.
    method "eda" (nlpaug) or "backtranslate" (engine "bergamot" with the bundled en<->pt models, or
    "ctranslate2" with `models` = {pivot: (forward dir, backward dir)})."""
    from prefit.stages.augment.backtranslate import BackTranslationAugmenter
    from prefit.stages.augment.eda import EdaAugmenter, EdaOptions
    from prefit.stages.augment.job import JobOptions, run_job

    if isinstance(variants, bool) or not isinstance(variants, int) or variants < 1:
        raise InputError(f"variants: expected an integer >= 1, found {variants!r}")
    _check_seed(seed)
    opts = JobOptions(seed=seed, overwrite=overwrite, progress=progress)
    if method == "eda":
        aug = EdaAugmenter(EdaOptions(), variants, opts.filters)
    elif method == "backtranslate":
        if engine not in ("bergamot", "ctranslate2"):
            raise InputError(f"engine: expected 'bergamot' or 'ctranslate2', found {engine!r}")
        if engine == "bergamot":
            from prefit.stages.augment.bergamot import bergamot_dirs

            dirs = {p: bergamot_dirs("en", p) for p in pivots}
        elif models:
            dirs = {p: tuple(map(str, d)) for p, d in models.items()}
        else:
            raise InputError("augment(method='backtranslate', engine='ctranslate2') needs models={pivot: (forward dir, backward dir)}")
        aug = BackTranslationAugmenter(dirs, variants, opts.filters, engine_name=engine, threads=threads)
    else:
        raise InputError(f"method: expected 'eda' or 'backtranslate', found {method!r}")
    return run_job(input, output, aug, opts)


def export(run_dir: str | Path, output: str | Path, *, int8: bool = False, fp16: bool = False, overwrite: bool = False) -> dict:
    """ONNX export of a transformer run (parity-checked), loadable by Optimum's ORTModelForSequenceClassification."""
    from prefit.stages.export.onnx_export import export as _export

    return _export(run_dir, output, int8=int8, fp16=fp16, force=overwrite)


def score_labels(inputs: list[str | Path], output: str | Path, model: str | Path | None = "builtin", **options: Any):
    """DailyMed SPL labels (files, folders, zips) -> one JSONL record per pharmacokinetics paragraph,
    with `predicted_label` and `probabilities` from `model` ("builtin": the built-in ADME labeller,
    builtin.py; None: paragraphs and heading labels only). `options`: ScoreOptions fields."""
    from prefit.stages.score.job import ScoreOptions
    from prefit.stages.score.job import score_labels as _score

    if model == "builtin":
        from prefit.builtin import labeller_dir

        model = labeller_dir(progress=options.get("progress", True))

    return _score(list(inputs), output, model, ScoreOptions(**options))


def score_texts(inputs: list[str | Path], output: str | Path, model: str | Path, **options: Any):
    """Records files -> the same records with `predicted_label` and `probabilities`. `options`: ScoreOptions fields."""
    from prefit.stages.score.job import ScoreOptions
    from prefit.stages.score.job import score_texts as _score

    return _score(list(inputs), output, model, ScoreOptions(**options))
