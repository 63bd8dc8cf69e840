"""`train`: the two-stage recipe, its baselines, comparisons, and ONNX export. Parsing and printing only."""

from __future__ import annotations

from pathlib import Path

import click

from prefit.cli.common import (
    SEED,
    FiniteFloatRange,
    PrefitGroup,
    echo_err,
    log_options,
    overwrite_option,
    setup_logging,
    version_option,
)

# --recipe: the values of the options left unset. "paper" is Shi et al.'s BERT-base recipe; "prefit"
# is what validation splits chose for the default encoder (README, bench/quality.py, bench/adme.py).
RECIPES = {
    "prefit": {"stage2_lr": 1e-4, "stage2_epochs": 3, "pooling": "auto", "class_weights": "auto", "read": "windows",
               "wise_alpha": 1.0, "tfidf_weight": None},  # = RecipeOptions' and RunConfig's defaults (None: the method's)
    "paper": {"stage2_lr": 1e-5, "stage2_epochs": 3, "pooling": "cls", "class_weights": "none", "read": "first", "wise_alpha": 1.0,
              "tfidf_weight": 0.0},
}


@click.group(cls=PrefitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@version_option
def main() -> None:
    """Finetune an encoder on imbalanced data: two-stage pre-finetuning and the usual baselines."""


# Every option of the training commands: name -> (declarations, click settings). Each command shows
# only the options its method uses (METHOD_OPTIONS); the rest take these defaults.
OPTIONS: dict[str, tuple[tuple[str, ...], dict]] = {
    "train_path": (("--train", "train_path"), dict(type=click.Path(dir_okay=False, path_type=Path), default=None,
                                                   help="Original (imbalanced) training records (.jsonl, .csv, .tsv, .parquet).")),
    "eval_path": (("--eval", "eval_path"), dict(type=click.Path(dir_okay=False, path_type=Path), default=None,
                                                 help="Evaluation records; without it the run trains a final model on all of --train "
                                                      "and reports no scores.")),
    "model": (("--model",), dict(default=None, help="Local Hugging Face directory or hub id [default: packaged all-MiniLM-L6-v2].")),
    "text_field": (("--text-field",), dict(default="text", show_default=True)),
    "label_field": (("--label-field",), dict(default="label", show_default=True)),
    "max_length": (("--max-length",), dict(type=click.IntRange(min=8), default=128, show_default=True)),
    "pooling": (("--pooling",), dict(type=click.Choice(["auto", "cls", "mean"]), default=None,
                                     help="auto: the checkpoint's sentence-transformers pooling (mean for the default encoder), else its own "
                                          "head [default: the recipe's; prefit auto, paper cls].")),
    "read": (("--read",), dict(type=click.Choice(["first", "windows"]), default=None,
                               help="How evaluation and `score` read a text longer than --max-length: its first window, or every "
                                    "window with the logits averaged (training reads the first) [default: the recipe's; prefit "
                                    "windows, paper first].")),
    "max_windows": (("--max-windows",), dict(type=click.IntRange(min=1), default=16, show_default=True,
                                             help="With --read windows: windows read per text at most.")),
    "batch_size": (("--batch-size",), dict(type=click.IntRange(min=1), default=16, show_default=True)),
    "stage1_layers": (("--stage1-layers",), dict(type=click.IntRange(min=0), default=1, show_default=True,
                                                 help="Top encoder layers trained in the first stage.")),
    "stage1_lr": (("--stage1-lr",), dict(type=FiniteFloatRange(min=0), default=1e-4, show_default=True, help="First-stage lr.")),
    "stage1_epochs": (("--stage1-epochs",), dict(type=click.IntRange(min=0), default=1, show_default=True)),
    "recipe": (("--recipe",), dict(type=click.Choice(list(RECIPES)), default="prefit", show_default=True,
                                   help="Defaults for --lr, --epochs, --pooling, --class-weights, --read, --tfidf-weight, --wise-alpha: "
                                        "prefit (chosen on validation splits, README) or paper (Shi et al.: no blend).")),
    "stage2_lr": (("--lr", "--stage2-lr", "stage2_lr"), dict(type=FiniteFloatRange(min=0), default=None,
                                                            help="Finetuning lr [default: the recipe's; prefit 1e-4, paper 1e-5].")),
    "stage2_epochs": (("--epochs", "--stage2-epochs", "stage2_epochs"), dict(type=click.IntRange(min=0), default=None,
                                                                            help="Finetuning epochs [default: the recipe's; 3 in both].")),
    "lp_lr": (("--lp-lr",), dict(type=FiniteFloatRange(min=0), default=1e-3, show_default=True, help="Linear-probe lr.")),
    "lp_epochs": (("--lp-epochs",), dict(type=click.IntRange(min=0), default=1, show_default=True)),
    "peer_c": (("--peer-c",), dict(type=FiniteFloatRange(min=0, min_open=True), default=1.0, show_default=True,
                                   help="Inverse regularisation strength C of the logistic regression.")),
    "wise_alpha": (("--wise-alpha",), dict(type=FiniteFloatRange(0, 1), default=None,
                                           help="WiSE-FT: the saved model is (1 - A) x the weights before full finetuning + A x "
                                                "the finetuned weights; 1 keeps the finetuned model [default: the recipe's]. Every run "
                                                "also reports alphas 0.25, 0.5, 0.75 and 1 on its evaluation file.")),
    "tfidf_weight": (("--tfidf-weight",), dict(type=FiniteFloatRange(0, 1, max_open=True), default=None,
                                               help="Blend a TF-IDF + logistic-regression peer, fitted on --train and saved with the "
                                                    "model: predictions are (1 - W) x the transformer's + W x the peer's probabilities "
                                                    "[default: the recipe's; prefit 0.75 for two-stage, 0 for the other methods, paper "
                                                    "0]. Every run also reports W 0, 0.25, 0.5, 0.75 on --eval.")),
    "weight_decay": (("--weight-decay",), dict(type=FiniteFloatRange(min=0), default=0.01, show_default=True)),
    "warmup_ratio": (("--warmup-ratio",), dict(type=FiniteFloatRange(0, 1), default=0.0, show_default=True)),
    "max_grad_norm": (("--max-grad-norm",), dict(type=FiniteFloatRange(min=0, min_open=True), default=1.0, show_default=True)),
    "loss": (("--loss",), dict(type=click.Choice(["ce", "focal", "ldam"]), default="ce", show_default=True, help="Finetuning loss.")),
    "class_weights": (("--class-weights",), dict(type=click.Choice(["auto", "none", "cb", "drw"]), default=None,
                                                 help="Finetuning class weights. cb: effective-number weights; drw: cb weights from "
                                                      "--drw-epoch on; auto: the method's default, cb for two-stage, none for the "
                                                      "others [default: the recipe's; prefit auto, paper none].")),
    "cb_beta": (("--cb-beta",), dict(type=FiniteFloatRange(0, 1, max_open=True), default=0.9999, show_default=True)),
    "focal_gamma": (("--focal-gamma",), dict(type=FiniteFloatRange(min=0), default=2.0, show_default=True)),
    "ldam_max_margin": (("--ldam-max-margin",), dict(type=FiniteFloatRange(min=0), default=0.5, show_default=True)),
    "ldam_scale": (("--ldam-scale",), dict(type=FiniteFloatRange(min=0, min_open=True), default=30.0, show_default=True)),
    "drw_epoch": (("--drw-epoch",), dict(type=click.IntRange(min=0), default=1, show_default=True, help="0-based epoch where DRW starts.")),
    "stage1_loss": (("--stage1-loss",), dict(type=click.Choice(["ce", "focal", "ldam"]), default="ce", show_default=True,
                                             help="Loss of the first stage.")),
    "sam_rho": (("--sam-rho",), dict(type=FiniteFloatRange(min=0), default=0.0, show_default=True, help="> 0: SAM with this rho.")),
    "device": (("--device",), dict(type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)),
    "no_group_by_length": (("--no-group-by-length",), dict(is_flag=True, help="Shuffle without grouping similar lengths.")),
}
DATA = ["train_path", "eval_path", "text_field", "label_field"]
FINETUNE = ["model", "max_length", "pooling", "read", "max_windows", "recipe", "stage2_lr", "stage2_epochs", "tfidf_weight", "batch_size",
            "weight_decay", "warmup_ratio",
            "max_grad_norm", "loss", "class_weights", "cb_beta", "focal_gamma", "ldam_max_margin", "ldam_scale", "drw_epoch", "sam_rho",
            "device", "no_group_by_length"]
METHOD_OPTIONS = {
    "two-stage": DATA + FINETUNE + ["stage1_layers", "stage1_lr", "stage1_epochs", "stage1_loss", "wise_alpha"],
    "vanilla": DATA + FINETUNE,
    "oversample": DATA + FINETUNE,
    "lpft": DATA + FINETUNE + ["lp_lr", "lp_epochs", "stage1_loss", "wise_alpha"],
    "tfidf-lr": DATA + ["peer_c"],
    "probe": DATA + ["model", "peer_c"],
    "compare": list(OPTIONS),
}


def _common(method: str):
    """The options of `method` (see METHOD_OPTIONS), then --overwrite, -q, -v."""

    def deco(f):
        f = log_options(overwrite_option("Replace a finished run.")(f))
        for name in reversed(METHOD_OPTIONS[method]):
            decls, settings = OPTIONS[name]
            f = click.option(*decls, **settings)(f)
        return f

    return deco


def _defaults(kw: dict) -> dict:
    """kw completed with the defaults of the options the command does not show."""
    return {name: (False if settings.get("is_flag") else settings.get("default")) for name, (_, settings) in OPTIONS.items()} | kw


def _config(method: str, output: Path, seed: int, augmented, kw) -> object:
    from prefit.jsonl import Fields
    from prefit.stages.train.losses import LossSpec
    from prefit.stages.train.recipes import RecipeOptions
    from prefit.stages.train.run import RunConfig

    setup_logging(kw["quiet"], kw["verbose"])
    kw = _defaults(kw)
    if kw["train_path"] is None:
        raise click.UsageError("missing option --train (or give --config RUN/run.json)")
    for key, value in RECIPES[kw["recipe"]].items():  # an option given on the command line wins over the recipe
        if kw[key] is None:
            kw[key] = value
    loss = LossSpec(kw["loss"], kw["class_weights"], kw["cb_beta"], kw["focal_gamma"], kw["ldam_max_margin"], kw["ldam_scale"], kw["drw_epoch"])
    ro = RecipeOptions(stage1_layers=kw["stage1_layers"], stage1_lr=kw["stage1_lr"], stage1_epochs=kw["stage1_epochs"],
                       stage2_lr=kw["stage2_lr"], stage2_epochs=kw["stage2_epochs"], lp_lr=kw["lp_lr"], lp_epochs=kw["lp_epochs"],
                       batch_size=kw["batch_size"], weight_decay=kw["weight_decay"], warmup_ratio=kw["warmup_ratio"],
                       max_grad_norm=kw["max_grad_norm"], loss=loss, stage1_loss=LossSpec(kw["stage1_loss"]), sam_rho=kw["sam_rho"], peer_c=kw["peer_c"],
                       wise_alpha=kw["wise_alpha"], tfidf_weight=kw["tfidf_weight"])
    return RunConfig(method=method, train=str(kw["train_path"]), eval=str(kw["eval_path"]) if kw["eval_path"] else None, output=str(output),
                     augmented=str(augmented) if augmented else None, model=kw["model"], seed=seed, max_length=kw["max_length"], pooling=kw["pooling"],
                     read=kw["read"], max_windows=kw["max_windows"],
                     device=kw["device"], fields=Fields(kw["text_field"], kw["label_field"]), recipe=ro,
                     group_by_length=not kw["no_group_by_length"], overwrite=kw["overwrite"], progress=not kw["quiet"])


def _print_metrics(m: dict, out: Path) -> None:
    if "micro_f1" not in m:
        echo_err(f"{m['method']} seed {m['seed']}: trained on all of --train, no --eval to score ({m['seconds']:.0f}s)")
        echo_err(f"run directory: {out}")
        return
    echo_err(f"{m['method']} seed {m['seed']}: accuracy {m['accuracy']:.4f}, micro-F1 {m['micro_f1']:.4f}, macro-F1 {m['macro_f1']:.4f}, "
             f"non-majority micro-F1 {m['non_majority_micro_f1']:.4f} ({m['seconds']:.0f}s)")
    echo_err(f"run directory: {out}")


def _single(method: str, needs_aug: bool):
    @_common(method)
    @click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Run directory.")
    @click.option("--seed", type=SEED, default=42, show_default=True)
    @click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                  help="Re-run a run from its run.json (the same method; only -o, --seed, --overwrite, -q, -v may be added).")
    def cmd(output, seed, config_file, augmented=None, **kw):
        from prefit.stages.train.run import run

        if config_file is not None:
            cfg = _from_config_file(config_file, method, output, kw)
        else:
            cfg = _config(method, output, seed, augmented, kw)
        m = run(cfg)
        if not kw["quiet"]:
            _print_metrics(m, output)

    if needs_aug:
        cmd = click.option("--augmented", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help="Class-balanced augmented records for the first stage ('aug backtranslate' / 'aug eda').")(cmd)
    return cmd


# A run.json's values -> the flag whose rules they must meet (the same rules as on the command line).
CONFIG_FIELDS = {("run", k): k for k in ("max_length", "pooling", "read", "max_windows", "device")} | {
    ("recipe", k): k for k in ("batch_size", "stage1_layers", "stage1_lr", "stage1_epochs", "stage2_lr", "stage2_epochs", "lp_lr",
                               "lp_epochs", "peer_c", "wise_alpha", "tfidf_weight", "weight_decay", "warmup_ratio", "max_grad_norm",
                               "sam_rho")} | {
    ("loss", "name"): "loss", ("loss", "weights"): "class_weights", ("loss", "beta"): "cb_beta", ("loss", "gamma"): "focal_gamma",
    ("loss", "max_margin"): "ldam_max_margin", ("loss", "scale"): "ldam_scale", ("loss", "drw_epoch"): "drw_epoch",
    ("stage1_loss", "name"): "stage1_loss"}


def check_config_values(path: Path) -> None:
    """Refuse a run.json value the flag would refuse (#37 item 21): max_length "16" or 2, batch
    size 0, epochs -1, seed "abc", device "tpu"; checked before any work, naming the field."""
    import json
    import math

    from prefit.errors import MAX_SEED, InputError, is_seed

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))["run"]
        parts = {"run": raw, "recipe": raw["recipe"], "loss": raw["recipe"]["loss"], "stage1_loss": raw["recipe"]["stage1_loss"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return  # load_run_config says what is wrong with the file itself
    for part, value in parts.items():
        if not isinstance(value, dict):
            raise InputError(f"expected an object, found {json.dumps(value)[:40]}", file=path,
                             field="run" if part == "run" else f"run.recipe{'' if part == 'recipe' else '.' + part}")
    for key in ("train", "eval", "augmented"):
        value = raw.get(key)
        if not (value is None and key != "train" or isinstance(value, str) and value):
            raise InputError(f"expected a file name{' or null' if key != 'train' else ''}, found {json.dumps(value)[:40]}", file=path,
                             field=f"run.{key}")
    if "seed" in raw and not is_seed(raw["seed"]):
        what = "an integer" + (f" in 0..{MAX_SEED}" if isinstance(raw["seed"], int) and not isinstance(raw["seed"], bool) else "")
        raise InputError(f"expected {what}, found {json.dumps(raw['seed'])[:40]}", file=path, field="run.seed")
    checks = [(part, key, OPTIONS[flag][1]["type"]) for (part, key), flag in CONFIG_FIELDS.items()]
    for part, key, kind in checks:
        if key not in parts[part]:
            continue
        value, field = parts[part][key], ("run." if part == "run" else f"run.recipe.{part + '.' if part != 'recipe' else ''}") + key
        if value is None and (part, key) == ("recipe", "tfidf_weight"):
            continue  # null: the method's default weight
        base = kind if kind in (int, float) else int if isinstance(kind, click.types.IntParamType) else float if isinstance(
            kind, click.types.FloatParamType) else str
        ok = not isinstance(value, bool) and (isinstance(value, (int, float)) if base is float else isinstance(value, base))
        if ok and isinstance(value, float) and not math.isfinite(value):
            ok = False
        if ok and kind not in (int, float):
            try:
                kind.convert(value, None, None)
            except click.BadParameter as e:
                raise InputError(f"{e.message.rstrip('.')} (the rule of {OPTIONS[CONFIG_FIELDS[(part, key)]][0][0]})", file=path,
                                 field=field) from None
        if not ok:
            what = "an integer" if base is int else "a number" if base is float else f"one of {', '.join(kind.choices)}"
            raise InputError(f"expected {what}, found {json.dumps(value)}", file=path, field=field)


def _from_config_file(path: Path, method: str, output: Path, kw: dict):
    """A run's RunConfig from its run.json, with a new output; refuses options that would change it."""
    from dataclasses import replace

    from prefit.stages.train.run import load_run_config

    ctx = click.get_current_context()
    given = [p.opts[0] for p in ctx.command.params
             if p.name not in ("output", "config_file", "overwrite", "quiet", "verbose", "force_alias", "seed")
             and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"--config re-runs a run as it was; {', '.join(given)} cannot be combined with it (edit the file instead)")
    setup_logging(kw["quiet"], kw["verbose"])
    check_config_values(path)
    cfg = load_run_config(path)
    if cfg.method != method:
        raise click.UsageError(f"{path} is a {cfg.method} run; use 'train {cfg.method} --config {path}'")
    seed = ctx.params["seed"] if ctx.get_parameter_source("seed") == click.core.ParameterSource.COMMANDLINE else cfg.seed
    return replace(cfg, output=str(output), seed=seed, overwrite=kw["overwrite"], progress=not kw["quiet"])


DOCS = {
    "two-stage": "Pre-finetune the top layer(s) on augmented data, then finetune all on the original data (Shi et al. 2022).",
    "vanilla": "Finetune the whole encoder on the original data.",
    "oversample": "Finetune on the original data randomly oversampled to the majority class size.",
    "lpft": "Linear probe (classifier only), then full finetuning (Kumar et al. 2022).",
    "tfidf-lr": "Peer: TF-IDF 1-2-grams + logistic regression with balanced class weights (scikit-learn).",
    "probe": "Peer: frozen encoder sentence embeddings + logistic regression with balanced class weights.",
}
for _m in ("two-stage", "vanilla", "oversample", "lpft", "tfidf-lr", "probe"):
    main.command(_m, help=DOCS[_m])(_single(_m, _m == "two-stage"))


@main.command("compare")
@_common("compare")
@click.option("--augmented", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Needed by two-stage.")
@click.option("--methods", default="tfidf-lr,probe,vanilla,two-stage", show_default=True,
              help="Comma-separated; METHOD+VARIANT swaps the finetuning loss: +cb, +drw, +focal, +ldam, +ldam-drw.")
@click.option("--seeds", default="7,42,106,190,191", show_default=True)
@click.option("--select", "select_specs", multiple=True, metavar="NAME=V1,V2",
              help="Pick each method's NAME (lr, epochs, stage1-lr; c for the peers) on a validation split of --train; repeatable.")
@click.option("--val-fraction", type=FiniteFloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True,
              help="Share of --train held out for --select.")
@click.option("--select-seed", type=SEED, default=0, show_default=True, help="Seed of the validation split and the selection runs.")
@click.option("--group-field", default=None, help="Keep each value of this field on one side of the validation split (e.g. a drug name; case is "
                   "ignored).")
@click.option("--select-metric", type=click.Choice(["non_majority_micro_f1", "micro_f1", "macro_f1", "minority_mean_f1"]),
              default="macro_f1", show_default=True,
              help="Metric maximised on the validation split. macro-F1 weighs every class alike, as a class-balanced test set does.")
@click.option("--select-epochs", type=click.IntRange(min=1), default=None,
              help="A shorter proxy: selection candidates train the last stage for this many epochs (the seeds keep --epochs).")
@click.option("--folds", type=click.IntRange(min=2), default=None,
              help="Grouped K-fold cross-validation over --train by --group-field instead of --eval: every group tested once, "
                   "selection inside each fold's training side, the first of --seeds per fold; writes cv.json and cv.md with "
                   "paired per-fold differences.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Comparison directory.")
def compare_cmd(augmented, methods, seeds, select_specs, val_fraction, select_seed, group_field, select_metric, select_epochs, folds, output,
                **kw):
    """Run METHODS x SEEDS; write results.md, results.json and per_class_f1.png (mean ± SEM).

    With --select, each method's values are chosen on a validation split carved from --train
    (never on --eval), then the seeds train on all of --train with the chosen values."""
    from prefit.errors import MAX_SEED, is_seed
    from prefit.model.peer_store import PEERS
    from prefit.stages.train.compare import compare, markdown_table
    from prefit.stages.train.recipes import METHODS

    METHODS = METHODS + PEERS  # noqa: N806
    from prefit.stages.train.recipes import split_variant

    ms = [m.strip() for m in methods.split(",") if m.strip()]
    bad = []
    for m in ms:
        try:
            base, variant = split_variant(m)
        except ValueError:
            base, variant = m, None
            bad.append(m)
        if base not in METHODS or (variant and base in PEERS):
            bad.append(m)
    if bad or not ms:
        raise click.BadParameter(f"unknown method(s) {', '.join(dict.fromkeys(bad)) or '(none)'}; choose from {', '.join(METHODS)}"
                                 " (transformer methods may take +VARIANT)", param_hint="--methods")
    try:
        sd = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, found {seeds!r}", param_hint="--seeds") from None
    if not sd:
        raise click.BadParameter(f"expected at least one seed, found {seeds!r}", param_hint="--seeds")
    if (bad_seed := next((s for s in sd if not is_seed(s)), None)) is not None:
        raise click.BadParameter(f"{bad_seed} is not in the range 0<=x<={MAX_SEED}", param_hint="--seeds")
    if any(split_variant(m)[0] == "two-stage" for m in ms) and not augmented:
        raise click.UsageError("--methods includes two-stage, which needs --augmented AUG.jsonl")
    from prefit.stages.train.select import parse_grid

    grid = parse_grid(list(select_specs))
    if select_epochs is not None and (not grid or "epochs" in grid):
        raise click.UsageError("--select-epochs needs --select, and cannot be combined with --select epochs=...")
    if folds is not None:
        if group_field is None or kw.get("eval_path") is not None:
            raise click.UsageError("--folds needs --group-field and no --eval (each fold's test side is the evaluation)")
        from prefit.stages.train.cv import compare_cv, markdown

        kw["eval_path"] = kw["train_path"]  # a placeholder for _config; every fold sets its own
        result = compare_cv(_config(ms[0], output, sd[0], augmented, kw), ms, sd[0], output, folds=folds, group_field=group_field,
                            grid=grid, val_fraction=val_fraction, select_seed=select_seed, select_metric=select_metric,
                            select_epochs=select_epochs)
        if not kw["quiet"]:
            click.echo(markdown(result))
            echo_err(f"wrote {output / 'cv.json'}, {output / 'cv.md'}")
        return
    if kw.get("eval_path") is None:
        raise click.UsageError("train compare needs --eval (or --folds K with --group-field): it scores every method on it")
    table = compare(_config(ms[0], output, sd[0], augmented, kw), ms, sd, output, grid=grid, val_fraction=val_fraction,
                    select_seed=select_seed, group_field=group_field, select_metric=select_metric, select_epochs=select_epochs)
    import json

    if kw["quiet"]:
        return
    results = json.loads((output / "results.json").read_text())
    click.echo(markdown_table(table, len(sd), results.get("selection"), results.get("reading")))
    echo_err(f"wrote {output / 'results.md'}, {output / 'results.json'}, {output / 'per_class_f1.png'}")


@main.command("split")
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory for train.jsonl, test.jsonl and split.json.")
@click.option("--group-field", default=None, help="Keep each value of this field on one side (e.g. generic_names: hold out drugs; case is ignored).")
@click.option("--group-normalise", type=click.Choice(["none", "drug"]), default="none", show_default=True,
              help="drug: group values are drug names; salts, dosage forms and strengths are dropped, ingredients sorted.")
@click.option("--test-fraction", type=FiniteFloatRange(0, 1, min_open=True, max_open=True), default=0.2, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@overwrite_option("Replace an existing split in OUTPUT.")
@log_options
def split_cmd(input, output, group_field, group_normalise, test_fraction, seed, text_field, label_field, overwrite, quiet, verbose):
    """De-duplicate INPUT by normalised text and split it into train/test, groups never on both sides.

    A null label means unlabelled (`score --extract-only` writes it for a paragraph that no heading
    gives a topic): such texts are left out and counted."""
    from prefit.errors import InputError

    setup_logging(quiet, verbose)
    written = [output / n for n in ("train.jsonl", "test.jsonl", "split.json")]
    if any(p.exists() and p.resolve() == Path(input).resolve() for p in written):
        raise InputError("the split would replace its own input; choose another -o", file=input)
    from prefit.stages.train.split import UNFINISHED

    killed = (output / UNFINISHED).exists() and not (output / "split.json").exists()  # its own files: redo it
    if any(p.exists() for p in written) and not overwrite and not killed:
        raise InputError("a split is already there; use --overwrite to replace it", file=output)
    from prefit.jsonl import remove_stale_temps
    from prefit.resume import job_lock

    output.mkdir(parents=True, exist_ok=True)
    with job_lock(output / "split.json"):
        for p in written:  # what a killed split left (.test.jsonl.*.tmp)
            remove_stale_temps(p)
        s = _split(input, output, group_field, group_normalise, test_fraction, seed, text_field, label_field)
    if quiet:
        return
    _print_split(s, output, group_field, group_normalise)


def _split(input, output, group_field, group_normalise, test_fraction, seed, text_field, label_field):
    from prefit.jsonl import Fields
    from prefit.stages.train.split import dedupe_and_split

    return dedupe_and_split(input, output, group_field=group_field, test_fraction=test_fraction, seed=seed,
                            normalise_groups=group_normalise, fields=Fields(text_field, label_field))


def _print_split(s, output, group_field, group_normalise) -> None:
    echo_err(f"{s.records_in} records, {s.distinct} distinct ({s.label_conflicts} with conflicting labels, majority kept"
             + (f"; {s.unlabelled} more without a label, left out" if s.unlabelled else "") + ")"
             + (f"; {s.groups} groups" + (f", {s.merged_groups} after normalising drug names" if group_normalise == "drug" else "") if group_field else ""))
    labels = sorted({lab for c in s.counts.values() for lab in c})
    echo_err("split\t" + "\t".join(labels) + "\ttotal" + ("\tgroups" if group_field else ""))
    for name, c in s.counts.items():
        echo_err(f"{name}\t" + "\t".join(str(c.get(lab, 0)) for lab in labels) + f"\t{sum(c.values())}"
                 + (f"\t{len(s.groups_per_split[name])}" if group_field else ""))
    echo_err(f"wrote {output / 'train.jsonl'}, {output / 'test.jsonl'}, {output / 'split.json'}")


@main.command("export")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Export directory.")
@click.option("--int8", is_flag=True, help="Also write a dynamic int8 model for CPU.")
@click.option("--fp16", is_flag=True, help="Also write an fp16 model for CUDA.")
@click.option("--parity-tolerance", type=FiniteFloatRange(min=0, min_open=True), default=None,
              help="Largest |logit difference| from PyTorch a variant may show [default: 1e-3 fp32, 5e-2 int8 and fp16].")
@overwrite_option("Replace the export directory.")
@log_options
def export_cmd(run_dir, output, int8, fp16, parity_tolerance, overwrite, quiet, verbose):
    """Export RUN_DIR's classifier to ONNX, with a parity check against PyTorch per variant."""
    from prefit.stages.export.onnx_export import export

    setup_logging(quiet, verbose)
    try:
        meta = export(run_dir, output, int8=int8, fp16=fp16, force=overwrite, parity_tolerance=parity_tolerance)
    except RuntimeError as e:
        raise click.ClickException(str(e)) from e
    for variant, why in meta["not_written"].items():
        echo_err(f"Error: {variant} not written, parity check failed: {why}; the models that passed are in {output}")
    if not quiet:
        for p in meta["parity"]:
            echo_err(f"{p['variant']}: max |logit diff| {p['max_abs_diff']:.2e}, argmax agreement {p['argmax_agreement']:.3f} on {p['n']} inputs")
        echo_err(f"exported to {output}")
    if meta["not_written"]:
        raise SystemExit(1)
