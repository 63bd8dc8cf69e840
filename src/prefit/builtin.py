"""The built-in ADME labeller: what `score LABELS -o OUT.jsonl` uses when no --model is given.

It is trained here, once, on the labelled pharmacokinetics paragraphs of 713 public-domain
DailyMed labels that ship with prefit (prefit/data/adme_dev.jsonl.gz, bench/make_builtin_adme.py),
with the recipe of its card (RECIPE; the settings bench/adme_cv.py measured by grouped
cross-validation over drugs, docs/adme-labeller.md), then exported to ONNX (int8) and cached in
`$PREFIT_CACHE` (default ~/.cache/prefit) under a key of the data, the recipe and prefit's
version. Building it takes a few minutes on 2 CPU cores and needs no network; it resumes if
killed (the training keeps epoch checkpoints). `./run setup` builds it; `python -m prefit.builtin`
does too and prints where it is.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from importlib.resources import files
from pathlib import Path

log = logging.getLogger("prefit")

DATA = "data/adme_dev.jsonl.gz"
# The card's recipe: `train two-stage` with the product defaults on the shipped paragraphs,
# pre-finetuned on their Bergamot back-translation (en<->pt, 4 segmentation variants, balanced to
# the largest class; made once by bench/make_builtin_adme.py and shipped, so building needs no
# translation engine), blended with a TF-IDF peer at weight 0.75 — the median of the weights the
# 8 folds of bench/adme_cv.py chose on their validation splits. bench/bt_vs_eda.py measured this
# recipe by grouped cross-validation. Changing it changes the cache key, so a new model is built.
RECIPE = {"augment": {"method": "backtranslate", "engine": "bergamot", "pivot": "pt", "variants": 4, "balance": "max", "seed": 13,
                      "corpus": "data/adme_dev_bt.jsonl.gz"},
          "method": "two-stage", "seed": 7, "options": {"tfidf_weight": 0.75}}


def cache_root() -> Path:
    return Path(os.environ.get("PREFIT_CACHE") or Path.home() / ".cache" / "prefit")


def default_cache_root() -> Path:
    return Path.home() / ".cache" / "prefit"


def data_bytes() -> bytes:
    return files("prefit").joinpath(DATA).read_bytes()


def build_key() -> str:
    from prefit import __version__

    h = hashlib.sha256(data_bytes())
    if "corpus" in RECIPE["augment"]:
        h.update(files("prefit").joinpath(RECIPE["augment"]["corpus"]).read_bytes())
    h.update(json.dumps(RECIPE, sort_keys=True).encode())
    h.update(__version__.encode())
    return h.hexdigest()[:12]


def labeller_dir(*, build: bool = True, progress: bool = True, root: Path | None = None) -> Path:
    """The export folder of the built-in labeller (under `root`, default cache_root()), built first
    if it is not cached yet."""
    home = (root or cache_root()) / f"adme-labeller-{build_key()}"
    export = home / "export"
    if (export / "card.json").exists():
        return export
    if not build:
        raise FileNotFoundError(export)
    from prefit.resume import job_lock

    home.mkdir(parents=True, exist_ok=True)
    with job_lock(home / "build"):
        if not (export / "card.json").exists():
            _build(home, progress)
    return export


def _build(home: Path, progress: bool) -> None:
    from dataclasses import replace

    from prefit.jsonl import write_json_atomic
    from prefit.model.peer_store import PEERS
    from prefit.stages.augment.balance import BalancePolicy
    from prefit.stages.augment.eda import EdaAugmenter, EdaOptions
    from prefit.stages.augment.job import JobOptions, run_job
    from prefit.stages.export.onnx_export import export
    from prefit.stages.train.provenance import settings_file
    from prefit.stages.train.recipes import RecipeOptions
    from prefit.stages.train.run import RunConfig, run

    log.warning("building the built-in ADME labeller once (cached in %s)", home)
    train = home / "train.jsonl"
    if not train.exists():
        tmp = train.with_suffix(".tmp")
        tmp.write_bytes(gzip.decompress(data_bytes()))
        tmp.replace(train)
    peer = RECIPE["method"] in PEERS
    aug = None
    if not peer:  # a transformer recipe pre-finetunes on the augmented corpus
        aug, a = home / "augmented.jsonl", RECIPE["augment"]
        if not aug.exists() and a["method"] == "backtranslate":  # shipped: the back-translation was made once (bench/make_builtin_adme.py)
            tmp = aug.with_suffix(".tmp")
            tmp.write_bytes(train.read_bytes() + gzip.decompress(files("prefit").joinpath(a["corpus"]).read_bytes()))
            tmp.replace(aug)
        elif not aug.exists():
            opts = JobOptions(balance=BalancePolicy.parse(a["balance"]), seed=a["seed"], progress=progress)
            run_job(train, aug, EdaAugmenter(EdaOptions(), 1, opts.filters), opts)
    run_dir = home / "run"
    if not (run_dir / "metrics.json").exists():
        run(RunConfig(method=RECIPE["method"], train=str(train), eval=None, output=str(run_dir), augmented=str(aug) if aug else None,
                      seed=RECIPE["seed"], progress=progress, overwrite=True, recipe=replace(RecipeOptions(), **RECIPE["options"])))
    staged = home / "export.tmp"
    if peer:  # a scikit-learn peer is scored from its run folder (safetensors + JSON, no ONNX)
        import shutil

        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(run_dir, staged)
    else:
        export(run_dir, staged, int8=True, force=True)
    card = {"name": "prefit built-in ADME labeller", "labels": json.loads((run_dir / "model" / "label_map.json").read_text())["labels"],
            "recipe": RECIPE, "data": {"file": f"prefit/{DATA}", "sha256": hashlib.sha256(data_bytes()).hexdigest(),
                                       "paragraphs": sum(1 for _ in train.open())},
            "training": json.loads(settings_file(run_dir).read_text())["run"], "evaluation": "docs/adme-labeller.md"}
    write_json_atomic(staged / "card.json", card)
    staged.replace(home / "export")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(labeller_dir())


if __name__ == "__main__":
    main()
