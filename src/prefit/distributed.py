"""Scale-out on Ray Data: the heavy part of `aug` and `score` as `map_batches` over the same batch
callables a single process uses, with the same output.

Planning stays on the driver (the balancing plan and its chunks; the list of documents), and so
does writing: each finished chunk comes back to the driver, which stores it atomically exactly as
a single-process run does (resume.ChunkStore). Ray Data's defaults retry failed tasks and restart
dead actors, whose batch is then retried. Chunks carry their own seeds, so which worker runs
which chunk, and in what order they finish, changes nothing in the output; an interrupted driver
resumes from its finished chunks; a worker that dies is restarted by Ray and its chunk retried.

Ray is imported only here, and only when `--ray` is given (`pip install prefit[ray]`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from prefit.errors import InputError

log = logging.getLogger("prefit")

# Test-only fault switch, read on the driver and handed to the workers: "chunk-3", "parse-3" or
# "score-3" makes the worker die (os._exit) on its first attempt at that chunk;
# PREFIT_RAY_FAULT_DIR holds the marker that says it already died once.
FAULT_ENV = "PREFIT_RAY_FAULT"


@dataclass(frozen=True)
class RayOptions:
    address: str = "local"  # "local": start Ray on this machine; "auto": the running cluster; else its address
    workers: int = 2  # actors in the pool (CPU workers; with GPUs, at most one per GPU makes sense)
    cpus_per_worker: float = 1.0
    gpus_per_worker: float | None = None  # None: 1 when the cluster has GPUs, else 0
    local_cpus: int | None = None  # "local" only: CPUs the started Ray may use (default: all)


def init(opts: RayOptions) -> dict:
    """Connect to (or start) Ray once per process; returns the cluster's resources."""
    try:
        import ray
    except ImportError as e:
        raise InputError("--ray needs Ray: pip install 'prefit[ray]'") from e
    if not ray.is_initialized():
        _quiet_ray()
        kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if opts.address == "local":
            ray.init(num_cpus=opts.local_cpus, **kw)
        else:
            try:
                ray.init(address=opts.address, **kw)
            except ConnectionError as e:
                raise InputError(f"no Ray cluster at {opts.address!r} ({e}); start one with 'ray start --head' or use --ray local") from e
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.verbose_stats_logs = False
        _quiet_ray()
    return ray.cluster_resources()


def _quiet_ray() -> None:
    """Ray's start-up and executor notes are not for a prefit user (-v shows them)."""
    from prefit.cli_common import third_party_quiet

    if third_party_quiet():
        for name in ["ray"] + [n for n in logging.root.manager.loggerDict if n.startswith("ray.")]:
            logging.getLogger(name).setLevel(logging.ERROR)


def _gpus(opts: RayOptions, resources: dict) -> float:
    if opts.gpus_per_worker is not None:
        return opts.gpus_per_worker
    return 1.0 if resources.get("GPU", 0) >= 1 else 0.0


def _fault() -> tuple[str, str] | None:
    """The driver's test-only fault switch, handed to the workers with their work."""
    key = os.environ.get(FAULT_ENV)
    return (key, os.environ.get("PREFIT_RAY_FAULT_DIR", "/tmp")) if key else None


def _maybe_fail(fault: tuple[str, str] | None, key: str) -> None:
    """Die once at `key` when the fault switch names it, as a crashed worker would."""
    if fault is None or fault[0] != key:
        return
    marker = Path(fault[1]) / f"prefit-ray-fault-{key}"
    if marker.exists():
        return
    marker.write_text("died once")
    os._exit(1)


# --- aug: chunks of source draws ---------------------------------------------------------------

class AugmentChunks:
    """Ray Data actor: holds the augmenter (it loads its models on first use, once per worker),
    and turns rows {chunk, draws, seed} into {chunk, payload} with the generate() a single process calls."""

    def __init__(self, augmenter: Any, records: list, fault=None) -> None:
        self.augmenter = augmenter
        self.records = records
        self.fault = fault

    def __call__(self, batch: dict) -> dict:
        from prefit.augment.job import Draw

        payloads = []
        for ci, draws, seed in zip(batch["chunk"], batch["draws"], batch["seed"], strict=True):
            _maybe_fail(self.fault, f"chunk-{int(ci)}")
            cands, stats = self.augmenter.generate(self.records, [Draw(r, o) for r, o in json.loads(draws)], int(seed))
            payloads.append(json.dumps({"candidates": [asdict(c) for c in cands], "stats": stats}))
        return {"chunk": list(batch["chunk"]), "payload": payloads}


def map_augment_chunks(augmenter: Any, records: list, todo: Iterable[tuple[int, list, int]],
                       opts: RayOptions) -> Iterator[tuple[int, dict]]:
    """(chunk index, payload) for every (index, draws, seed) in `todo`, computed on Ray, in the
    order they finish."""
    resources = init(opts)
    import ray

    rows = [{"chunk": ci, "draws": json.dumps([[d.record, d.occurrence] for d in draws]), "seed": seed} for ci, draws, seed in todo]
    if not rows:
        return
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    ds = ds.map_batches(AugmentChunks, fn_constructor_args=(augmenter, records, _fault()), batch_size=1,
                        concurrency=opts.workers, num_cpus=opts.cpus_per_worker, num_gpus=_gpus(opts, resources))
    for row in ds.iter_rows():
        yield int(row["chunk"]), json.loads(row["payload"])


# --- score: chunks of documents or records ------------------------------------------------------

def _encode_docs(docs: list[tuple[str, str, bytes]]) -> str:
    """A chunk of (name, key, XML bytes) as JSON text for the workers: data only, never pickle."""
    return json.dumps([[name, key, base64.b64encode(data).decode("ascii")] for name, key, data in docs])


def _decode_docs(text: str) -> list[tuple[str, str, bytes]]:
    return [(name, key, base64.b64decode(data)) for name, key, data in json.loads(text)]


def _parse_chunks(batch: dict, include_tables: bool, fault=None) -> dict:
    """Ray Data task: XML bytes -> paragraph records (serve_cli.job.extract_documents)."""
    from prefit.serve_cli.job import extract_documents

    results = []
    for ci, docs in zip(batch["chunk"], batch["docs"], strict=True):
        _maybe_fail(fault, f"parse-{int(ci)}")
        results.append(json.dumps(extract_documents(_decode_docs(docs), include_tables)))
    return {"chunk": list(batch["chunk"]), "result": results}


class ScoreChunks:
    """Ray Data actor: loads the model once (serve_cli.predictors.load_predictor), then adds
    predictions to the rows of each chunk (serve_cli.job.add_predictions)."""

    def __init__(self, model: str, device: str, text_field: str, batch_size: int, fault=None, threads: int = 0) -> None:
        from prefit.serve_cli.predictors import load_predictor

        self.fault = fault
        self.predictor = load_predictor(model, device, threads)  # threads: this worker's share of the cores
        self.text_field, self.batch_size = text_field, batch_size

    def __call__(self, batch: dict) -> dict:
        import time

        from prefit.serve_cli.job import add_predictions

        results = []
        for ci, raw in zip(batch["chunk"], batch["result"], strict=True):
            _maybe_fail(self.fault, f"score-{int(ci)}")
            result = json.loads(raw)
            t0 = time.perf_counter()
            result["rows"] = add_predictions(self.predictor, result["rows"], self.text_field, self.batch_size)
            result["model_seconds"] = time.perf_counter() - t0
            results.append(json.dumps(result))
        return {"chunk": list(batch["chunk"]), "result": results}


def _score_dataset(ds, model, opts, text_field: str, resources: dict):
    return ds.map_batches(ScoreChunks, fn_constructor_args=(str(model), opts.device, text_field, opts.batch_size, _fault(),
                                                             max(1, round(opts.ray.cpus_per_worker))),
                          batch_size=1,
                          concurrency=opts.ray.workers, num_cpus=opts.ray.cpus_per_worker, num_gpus=_gpus(opts.ray, resources))


def map_label_chunks(window: list[tuple[int, list]], model, opts) -> Iterator[tuple[int, dict]]:
    """(chunk index, extract_documents result with predictions) for chunks of (name, key, bytes):
    parsing as Ray tasks, scoring in a pool of actors that load the model once."""
    resources = init(opts.ray)
    import ray

    ds = ray.data.from_items([{"chunk": ci, "docs": _encode_docs(docs)} for ci, docs in window], override_num_blocks=len(window))
    ds = ds.map_batches(_parse_chunks, fn_kwargs={"include_tables": opts.include_tables, "fault": _fault()}, batch_size=1, num_cpus=opts.ray.cpus_per_worker)
    if model is not None:
        ds = _score_dataset(ds, model, opts, "text", resources)
    for row in ds.iter_rows():
        yield int(row["chunk"]), json.loads(row["result"])


def map_text_chunks(window: list[tuple[int, list[dict]]], model, opts) -> Iterator[tuple[int, list[dict], float]]:
    """(chunk index, records with predictions, model seconds) for chunks of records, on a pool of actors."""
    resources = init(opts.ray)
    import ray

    ds = ray.data.from_items([{"chunk": ci, "result": json.dumps({"rows": rows})} for ci, rows in window], override_num_blocks=len(window))
    for row in _score_dataset(ds, model, opts, opts.text_field, resources).iter_rows():
        result = json.loads(row["result"])
        yield int(row["chunk"]), result["rows"], result["model_seconds"]
