"""Scale-out on Ray Data, generic: `map_chunks(rows, steps, opts)` runs a stage's batch callables
(plain functions, or classes whose instances hold a loaded model: one per actor) over rows of
chunks and yields the finished rows. The stages bring their own callables (augment/on_ray.py,
score/on_ray.py): the same functions a single process uses, with the same output.

Planning stays on the driver (the balancing plan and its chunks; the list of documents), and so
does writing: each finished chunk comes back to the driver, which stores it atomically exactly as
a single-process run does (resume.ChunkStore). Ray Data's defaults retry failed tasks and restart
dead actors, whose batch is then retried. Chunks carry their own seeds, so which worker runs
which chunk, and in what order they finish, changes nothing in the output; an interrupted driver
resumes from its finished chunks; a worker that dies is restarted by Ray and its chunk retried.

Ray is imported only here, and only when `--ray` is given (`pip install prefit[ray]`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
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
        raise InputError("running on Ray needs Ray: pip install 'prefit[ray]'") from e
    if opts.address != "local":
        check_reachable(opts.address)
    if not ray.is_initialized():
        _quiet_ray()
        kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if opts.address == "local":
            ray.init(num_cpus=opts.local_cpus, **kw)
        else:
            try:
                ray.init(address=opts.address, **kw)
            except ConnectionError as e:
                raise InputError(f"no Ray cluster at {opts.address!r} ({e}); start one with 'ray start --head' or use `ray=local`") from e
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.verbose_stats_logs = False
        _quiet_ray()
    return ray.cluster_resources()


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A cluster address (HOST:PORT or ray://HOST:PORT) must accept a TCP connection within
    `timeout` seconds: ray.init would otherwise retry for minutes with raw warnings. "auto" is
    left to Ray, which answers at once when no cluster runs here."""
    import socket

    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"Ray address {address!r}: expected local, auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as e:
        raise InputError(f"no Ray cluster answers at {address!r} ({e.strerror or type(e).__name__}); start one with "
                         "'ray start --head' or use `ray=local`") from None


def _quiet_ray() -> None:
    """Ray's start-up and executor notes are not for a prefit user (-v shows them)."""
    from prefit.logs import third_party_quiet

    if third_party_quiet():
        for name in ["ray"] + [n for n in logging.root.manager.loggerDict if n.startswith("ray.")]:
            logging.getLogger(name).setLevel(logging.ERROR)


def _gpus(opts: RayOptions, resources: dict) -> float:
    if opts.gpus_per_worker is not None:
        return opts.gpus_per_worker
    return 1.0 if resources.get("GPU", 0) >= 1 else 0.0


def fault() -> tuple[str, str] | None:
    """The driver's test-only fault switch, handed to the workers with their work."""
    key = os.environ.get(FAULT_ENV)
    return (key, os.environ.get("PREFIT_RAY_FAULT_DIR", "/tmp")) if key else None


def maybe_fail(fault: tuple[str, str] | None, key: str) -> None:
    """Die once at `key` when the fault switch names it, as a crashed worker would."""
    if fault is None or fault[0] != key:
        return
    marker = Path(fault[1]) / f"prefit-ray-fault-{key}"
    if marker.exists():
        return
    marker.write_text("died once")
    os._exit(1)


@dataclass(frozen=True)
class Step:
    """One map_batches step: `fn` is a function over a batch (a Ray task) or a class (a pool of
    actors: the constructor runs once per actor with `args`, e.g. to load a model)."""

    fn: Any
    args: tuple = ()
    kwargs: dict | None = None
    gpus: bool = False  # actors of this step ask for the workers' GPUs


def map_chunks(rows: list[dict], steps: list[Step], opts: RayOptions) -> Iterator[dict]:
    """Each row (one chunk, JSON-able values only: never pickle) through `steps` on Ray, one row per
    batch; finished rows in the order they finish."""
    resources = init(opts)
    import ray

    if not rows:
        return
    ds = ray.data.from_items(rows, override_num_blocks=len(rows))
    for step in steps:
        if isinstance(step.fn, type):
            ds = ds.map_batches(step.fn, fn_constructor_args=step.args, batch_size=1, compute=ray.data.ActorPoolStrategy(size=opts.workers),
                                num_cpus=opts.cpus_per_worker, num_gpus=_gpus(opts, resources) if step.gpus else 0)
        else:
            ds = ds.map_batches(step.fn, fn_kwargs=step.kwargs or {}, batch_size=1, num_cpus=opts.cpus_per_worker)
    yield from ds.iter_rows()
