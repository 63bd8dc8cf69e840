"""Run one method for one seed and write a complete run directory.

RUN_DIR/
  model/          save_pretrained weights + tokenizer + label_map.json
  metrics.json    evaluation metrics (metrics.py), training history, timings
  run.json        every setting, the resolved model, package versions (config.json in runs made
                  before prefit 0.1: the name belongs to transformers' files)
  train.log       the log of the run
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from prefit.errors import InputError
from prefit.jsonl import Fields, write_json_atomic
from prefit.model.hf_layout import save_model_folder
from prefit.model.windows import DEFAULT_MAX_WINDOWS
from prefit.stages.train.provenance import (
    RUN_SETTINGS,
    data_fingerprints,
    package_versions,
    settings_file,
)
from prefit.stages.train.recipes import RecipeOptions, Stage, recipe, tfidf_weight_of

log = logging.getLogger("prefit")


@dataclass(frozen=True)
class RunConfig:
    method: str
    train: str
    eval: str | None  # None: train a final model on all the data, without evaluation
    output: str
    augmented: str | None = None
    model: str | None = None  # None: the packaged all-MiniLM-L6-v2
    seed: int = 42
    max_length: int = 128
    pooling: str = "auto"  # auto | cls | mean (pooling.py)
    read: str = "windows"  # first | windows: how evaluation and scoring read a text longer than max_length (windows.py)
    max_windows: int = DEFAULT_MAX_WINDOWS
    device: str = "auto"
    fields: Fields = Fields()
    recipe: RecipeOptions = field(default_factory=RecipeOptions)
    group_by_length: bool = True
    overwrite: bool = False
    progress: bool = True
    cache_dir: str | None = None  # probe: embeddings cached by content (compare sets it)


def training_key(cfg: RunConfig, model_path: str, pooling: str, stages: list[Stage], device, data_sha256: dict[str, str | None]) -> str:
    """What makes two runs train the same weights, as the key of an epoch checkpoint (checkpoint.py):
    not the evaluation file or how it is read, nor where the run is written. `data_sha256`: data_fingerprints(cfg)."""
    from prefit.resume import fingerprint

    versions = package_versions()
    return fingerprint({"method": cfg.method, "model": model_path, "seed": cfg.seed, "max_length": cfg.max_length, "pooling": pooling,
                        "fields": asdict(cfg.fields), "group_by_length": cfg.group_by_length, "device": str(device),
                        "stages": [asdict(s) for s in stages], "data_sha256": {k: v for k, v in data_sha256.items() if k != "eval"},
                        "versions": {k: versions[k] for k in ("prefit", "torch", "transformers", "tokenizers")}})


def load_tokenizer(name: str | None):
    """Resolve the encoder name once and load its tokenizer; returns (tokenizer, resolved path)."""
    from transformers import AutoTokenizer

    from prefit.model.registry import SAFE_TOKENIZER, load_error, load_errors, resolve_encoder

    path = resolve_encoder(name)
    try:
        return AutoTokenizer.from_pretrained(path, **SAFE_TOKENIZER), path
    except load_errors() as e:
        raise load_error(path, "tokenizer", e) from e


def load_model(path: str, labels: list[str]):
    from transformers import AutoModelForSequenceClassification

    from prefit.model.hf_layout import weights_variant
    from prefit.model.registry import SAFE_MODEL, load_error, load_errors

    try:
        return AutoModelForSequenceClassification.from_pretrained(
            path, variant=weights_variant(path) if Path(path).is_dir() else None, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)},
            ignore_mismatched_sizes=True, **SAFE_MODEL)
    except load_errors() as e:
        raise load_error(path, "model", e) from e


def run(cfg: RunConfig) -> dict:
    final = Path(cfg.output)
    from prefit.jsonl import restore_swapped

    restore_swapped(final)  # a run killed while replacing this folder left the old one aside
    check_replaceable(final, cfg.overwrite)
    from prefit.model.peer_store import PEERS
    from prefit.stages.train.peers import run_peer

    stages = [] if cfg.method in PEERS else recipe(cfg.method, cfg.recipe)
    if any(s.data == "augmented" for s in stages) and not cfg.augmented:
        raise InputError("two-stage needs `augmented=AUG.jsonl` (make one with 'aug backtranslate' or 'aug eda')")
    if stages:  # a device that is not there fails here, in one line, before any work
        from prefit.stages.train.loop import resolve_device

        resolve_device(cfg.device)
    from prefit.jsonl import atomic_dir
    from prefit.resume import job_lock

    # Built in a hidden sibling and moved into place when finished: a failed or killed run
    # leaves an earlier run in OUTPUT untouched and no half-made folder.
    with job_lock(final):
        with atomic_dir(final, overwrite=True) as out:
            log.info("training into %s (moved to %s when finished)", out, final)
            metrics = _run_in(cfg, out, stages, PEERS, run_peer)
        if stages:
            from prefit.stages.train.checkpoint import checkpoint_path

            checkpoint_path(final).unlink(missing_ok=True)  # the run is in place: its epochs are no longer needed
        return metrics


def check_replaceable(out: Path, overwrite: bool) -> None:
    """A finished run is replaced only with --overwrite; a folder that is not a run never."""
    if not out.exists():
        return
    if not out.is_dir():
        raise InputError("exists and is not a directory", file=out)
    if not any(out.iterdir()):
        return
    if not any((out / f).exists() for f in ("metrics.json", RUN_SETTINGS, "config.json", "train.log", "model")):
        raise InputError(f"is not a prefit run directory (no metrics.json, {RUN_SETTINGS} or model/); choose another -o", file=out)
    if not overwrite:
        state = "a finished run" if (out / "metrics.json").exists() else "an unfinished run"
        raise InputError(f"run directory already holds {state}; use `overwrite=True` to replace it", file=out)


def _run_in(cfg: RunConfig, out: Path, stages, PEERS, run_peer) -> dict:
    import torch

    from prefit.jsonl import remove_stale_temps
    from prefit.model.pooling import resolve_pooling, set_pooling
    from prefit.stages.train.checkpoint import Checkpoint, rng_state, set_rng_state
    from prefit.stages.train.data import load_split, oversample
    from prefit.stages.train.loop import evaluate, resolve_device, seed_everything, train_stage
    from prefit.stages.train.wise import WISE_GRID, interpolate, snapshot

    handler = logging.FileHandler(out / "train.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    handler.setLevel(logging.DEBUG)
    level = log.level
    log.setLevel(logging.DEBUG)  # train.log gets the per-step lines; the console handler shows INFO at most
    try:
        t_start = time.perf_counter()
        seed_everything(cfg.seed)
        if cfg.method in PEERS:
            train, labels = load_split(cfg.train, cfg.fields, None, None, cfg.max_length)
            evals = load_split(cfg.eval, cfg.fields, labels, None, cfg.max_length)[0] if cfg.eval else None
            metrics = run_peer(cfg, out, train, evals, labels)
            _log_eval(metrics)
            return metrics
        # Labels come from the training data; load the tokenizer first to encode every split once.
        from prefit.stages.train.data import LabelMap

        tok, path = load_tokenizer(cfg.model)
        train, labels = load_split(cfg.train, cfg.fields, None, tok, cfg.max_length)
        evals = load_split(cfg.eval, cfg.fields, labels, None, cfg.max_length)[0] if cfg.eval else None  # evaluate() reads it in windows
        aug = load_split(cfg.augmented, cfg.fields, LabelMap(labels.labels), tok, cfg.max_length)[0] if cfg.augmented else None
        seed_everything(cfg.seed)
        model = load_model(path, labels.labels)
        from prefit.model.registry import check_positions

        check_positions(cfg.max_length, model.config.to_dict(), path, "max_position_embeddings (--max-length)")
        pooling = resolve_pooling(cfg.pooling, path)
        set_pooling(model, pooling)
        device = resolve_device(cfg.device)
        model.to(device)
        k = len(labels.labels)
        log.info("method %s, seed %d, model %s (%s pooling), %d classes, %d train / %s eval examples%s, device %s", cfg.method, cfg.seed,
                 path, pooling, k, len(train.y), len(evals.y) if evals is not None else "no", f" / {len(aug.y)} augmented" if aug else "", device)
        data = {"train": train, "augmented": aug, "oversampled": oversample(train, cfg.seed) if any(s.data == "oversampled" for s in stages) else None}
        history: list[dict] = []
        shas = data_fingerprints(cfg)
        checkpoint = Checkpoint(cfg.output, training_key(cfg, path, pooling, stages, device, shas))
        remove_stale_temps(checkpoint.path)
        saved = checkpoint.load()
        if saved is not None and len(stages) > 1 and saved["stage"] == len(stages) - 1 and saved["loop"] and "wise_base" not in saved:
            log.warning("ignoring epoch checkpoint %s: it lacks the weights at the start of the last stage that WiSE-FT "
                        "interpolates from; training from the start", checkpoint.path)
            saved = None
        if saved is not None:
            model.load_state_dict(saved["model"])
            set_rng_state(saved["rng"])
            history = list(saved["history"])
            resumed = {"stages_done": saved["stage"], "epochs_done": len(saved["loop"]["history"]["epochs"]) if saved["loop"] else 0}
            log.info("resuming from the epoch checkpoint %s: %d stage(s) and %d epoch(s) of the next done", checkpoint.path,
                     resumed["stages_done"], resumed["epochs_done"])
        # WiSE-FT (wise.py): the weights when the last stage starts, kept through its epoch checkpoints.
        base = saved.get("wise_base") if saved is not None else None
        for i, stage in enumerate(stages):
            if saved is not None and i < saved["stage"]:
                continue  # finished before the checkpoint: its history is in `history`
            if len(stages) > 1 and i == len(stages) - 1 and base is None:
                base = snapshot(model)

            def save(loop: dict, i: int = i, stage: Stage = stage, base: dict | None = base) -> None:
                # After a stage's last epoch the next stage starts afresh: the weights, generators and history carry over.
                done = len(loop["history"]["epochs"]) == stage.epochs
                checkpoint.save({"model": model.state_dict(), "rng": rng_state(), "stage": i + 1 if done else i,
                                 "loop": {} if done else loop, "history": history + [loop["history"]] if done else history,
                                 **({"wise_base": base} if base is not None else {})})

            resume = saved["loop"] if saved is not None and i == saved["stage"] and saved["loop"] else None
            history.append(train_stage(model, stage, data[stage.data], k, tok.pad_token_id, device, seed=cfg.seed * 100 + i,
                                       group_by_length=cfg.group_by_length, progress=cfg.progress, resume=resume, on_epoch=save))
        def evaluated() -> dict:
            return evaluate(model, tok, evals, labels.labels, train.counts(k), device, max_length=cfg.max_length, read=cfg.read,
                            max_windows=cfg.max_windows)

        if evals is None:  # a final model trained on all the data: nothing to score it on
            metrics = {}
            if base is not None and cfg.recipe.wise_alpha != 1.0:
                model.load_state_dict(interpolate(base, snapshot(model), cfg.recipe.wise_alpha))
        elif base is None:
            metrics = evaluated()
        else:  # every alpha of the grid is evaluated, so that one run on a validation split chooses alpha
            finetuned, alpha, wise = snapshot(model), cfg.recipe.wise_alpha, {}
            for a in sorted({*WISE_GRID, alpha}):
                model.load_state_dict(interpolate(base, finetuned, a))
                wise[a] = evaluated()
                log.info("WiSE-FT alpha %g: micro-F1 %.4f, macro-F1 %.4f, non-majority micro-F1 %.4f", a, wise[a]["micro_f1"],
                         wise[a]["macro_f1"], wise[a]["non_majority_micro_f1"])
            model.load_state_dict(interpolate(base, finetuned, alpha))
            metrics = {**wise[alpha], "wise_alpha": alpha,
                       "wise": {str(a): {key: m[key] for key in ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")}
                                | {"readings": {r: {key: v[key] for key in ("micro_f1", "macro_f1", "non_majority_micro_f1")}
                                                for r, v in m["readings"].items()}}
                                for a, m in wise.items()}}
        (out / "model").mkdir(exist_ok=True)
        metrics = _with_tfidf_blend(cfg, metrics, train, evals, labels.labels, out / "model")
        metrics.update(method=cfg.method, seed=cfg.seed, history=history, seconds=round(time.perf_counter() - t_start, 2))
        if saved is not None:  # `seconds` then counts this process only; each epoch's own time is in `history`
            metrics["resumed"] = resumed
        save_model_folder(model, tok, out / "model", pooling=pooling, max_length=cfg.max_length, labels=labels.labels)
        write_json_atomic(out / "model" / "label_map.json", {"labels": labels.labels, "max_length": cfg.max_length, "pooling": pooling,
                                                                "read": cfg.read, "max_windows": cfg.max_windows,
                                                                "tfidf_weight": tfidf_weight_of(cfg.method, cfg.recipe)})
        resolved = replace(cfg, recipe=replace(cfg.recipe, tfidf_weight=tfidf_weight_of(cfg.method, cfg.recipe)))  # the weight it used
        write_json_atomic(out / RUN_SETTINGS, {"run": asdict(resolved), "resolved_model": path, "pooling": pooling, "stages": [asdict(s) for s in stages],
                                                 "device": str(device), "versions": package_versions(), "data_sha256": shas,
                                                 "torch_threads": torch.get_num_threads()})
        write_json_atomic(out / "metrics.json", metrics)  # last: its presence marks a finished run
        _log_eval(metrics)
        return metrics
    finally:
        log.setLevel(level)
        log.removeHandler(handler)
        handler.close()


def _with_tfidf_blend(cfg: RunConfig, metrics: dict, train, evals, labels: list[str], model_dir: Path) -> dict:
    """Fit the TF-IDF peer of blend.py (saved when the recipe blends it), report every weight of
    BLEND_GRID on the evaluation file, and, when the recipe blends, score the blended model."""
    import numpy as np

    from prefit.model.blend import BLEND_GRID, blend
    from prefit.stages.train.loop import eval_proba
    from prefit.stages.train.metrics import classification_metrics
    from prefit.stages.train.peers import fit_tfidf

    w = tfidf_weight_of(cfg.method, cfg.recipe)
    if w == 0 and evals is None:
        return metrics
    k = len(labels)
    p_peer = fit_tfidf([r.text for r in train.records], train.y, k, [r.text for r in evals.records] if evals is not None else [],
                       c=cfg.recipe.peer_c, seed=cfg.seed, model_dir=model_dir if w > 0 else None)
    if evals is None:
        return metrics
    counts = train.counts(k)

    def scored(p_t, weight: float) -> dict:
        return classification_metrics(evals.y, blend(p_t, p_peer, weight).argmax(-1).tolist(), labels, counts)

    p_read = np.asarray(metrics["readings"][cfg.read]["eval_proba"])
    grid = {str(g): {key: m[key] for key in ("micro_f1", "macro_f1", "non_majority_micro_f1", "minority_mean_f1")}
            for g in sorted({*BLEND_GRID, w}) for m in [scored(p_read, g)]}
    if w == 0:
        return {**metrics, "blend": grid}
    readings = {}
    for r, m in metrics["readings"].items():
        p = blend(np.asarray(m["eval_proba"]), p_peer, w)
        readings[r] = {**{key: v for key, v in m.items() if key in ("max_windows", "windows")},
                       **classification_metrics(evals.y, p.argmax(-1).tolist(), labels, counts), "eval_proba": eval_proba(p)}
    top = {key: v for key, v in readings[cfg.read].items() if key != "eval_proba"}
    return {**metrics, **top, "readings": readings, "blend": grid, "tfidf_weight": w}


def _log_eval(metrics: dict) -> None:
    if "micro_f1" in metrics:
        log.info("eval: micro-F1 %.4f, macro-F1 %.4f, non-majority micro-F1 %.4f", metrics["micro_f1"], metrics["macro_f1"],
                 metrics["non_majority_micro_f1"])
    else:
        log.info("no evaluation file: trained on all of the training data, not scored")


def load_run_config(path: str | Path) -> RunConfig:
    """The RunConfig a run recorded in its run.json ("run"), for re-running it; `path` is the
    file or the run folder."""
    from prefit.stages.train.losses import LossSpec

    path = Path(path)
    if path.is_dir():
        path = settings_file(path)
    try:
        raw = dict(json.loads(path.read_text(encoding="utf-8"))["run"])
        rec = dict(raw["recipe"])
        rec["loss"], rec["stage1_loss"] = LossSpec(**rec["loss"]), LossSpec(**rec["stage1_loss"])
        raw["recipe"], raw["fields"] = RecipeOptions(**rec), Fields(**raw["fields"])
        raw.setdefault("read", "first")  # runs recorded before windowed reading existed read the first window only
        return RunConfig(**raw)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"not a prefit run's settings file ({type(e).__name__}: {e})", file=path) from e


def load_metrics(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "metrics.json").read_text())


def metrics_for_reading(metrics: dict, read: str, max_windows: int) -> dict | None:
    """A finished run's metrics as they are under `read`, or None when the run did not record that
    reading (a run made before windowed reading existed read only the first window). A peer reads
    whole texts its own way: its metrics are what they are."""
    from prefit.model.peer_store import PEERS

    if metrics.get("method") in PEERS:
        return metrics
    readings = metrics.get("readings")
    if readings is None:
        return metrics if read == "first" else None
    got = readings.get(read)
    if got is None or (read == "windows" and got.get("max_windows") != max_windows):
        return None
    return {**metrics, **got, "read": read}
