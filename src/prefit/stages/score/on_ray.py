"""`score` on Ray: parsing as tasks, scoring in a pool of actors that load the model once
(prefit.distributed.map_chunks); the driver lists the documents and writes each finished chunk as
a single process does."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

from prefit.distributed import Step, fault, map_chunks, maybe_fail


def _encode_docs(docs: list[tuple[str, str, bytes]]) -> str:
    """A chunk of (name, key, XML bytes) as JSON text for the workers: data only, never pickle."""
    return json.dumps([[name, key, base64.b64encode(data).decode("ascii")] for name, key, data in docs])


def _decode_docs(text: str) -> list[tuple[str, str, bytes]]:
    return [(name, key, base64.b64decode(data)) for name, key, data in json.loads(text)]


def _parse_chunks(batch: dict, include_tables: bool, fault_switch=None) -> dict:
    """Ray Data task: XML bytes -> paragraph records (job.extract_documents)."""
    from prefit.stages.score.batch import extract_documents

    results = []
    for ci, docs in zip(batch["chunk"], batch["docs"], strict=True):
        maybe_fail(fault_switch, f"parse-{int(ci)}")
        results.append(json.dumps(extract_documents(_decode_docs(docs), include_tables)))
    return {"chunk": list(batch["chunk"]), "result": results}


class ScoreChunks:
    """Ray Data actor: loads the model once (prefit.Classifier), then adds predictions to the rows
    of each chunk (job.add_predictions)."""

    def __init__(self, model: str, device: str, text_field: str, batch_size: int, fault_switch=None, threads: int = 0) -> None:
        from prefit.model.classifier import Classifier

        self.fault = fault_switch
        self.predictor = Classifier.load(model, device, threads)  # threads: this worker's share of the cores
        self.text_field, self.batch_size = text_field, batch_size

    def __call__(self, batch: dict) -> dict:
        import time

        from prefit.stages.score.batch import add_predictions

        results = []
        for ci, raw in zip(batch["chunk"], batch["result"], strict=True):
            maybe_fail(self.fault, f"score-{int(ci)}")
            result = json.loads(raw)
            t0 = time.perf_counter()
            result["rows"] = add_predictions(self.predictor, result["rows"], self.text_field, self.batch_size)
            result["model_seconds"] = time.perf_counter() - t0
            results.append(json.dumps(result))
        return {"chunk": list(batch["chunk"]), "result": results}


def _score_step(model, opts, text_field: str) -> Step:
    return Step(ScoreChunks, (str(model), opts.device, text_field, opts.batch_size, fault(), max(1, round(opts.ray.cpus_per_worker))),
                gpus=True)


def map_label_chunks(window: list[tuple[int, list]], model, opts) -> Iterator[tuple[int, dict]]:
    """(chunk index, extract_documents result with predictions) for chunks of (name, key, bytes):
    parsing as Ray tasks, scoring in a pool of actors that load the model once."""
    steps = [Step(_parse_chunks, kwargs={"include_tables": opts.include_tables, "fault_switch": fault()})]
    if model is not None:
        steps.append(_score_step(model, opts, "text"))
    for row in map_chunks([{"chunk": ci, "docs": _encode_docs(docs)} for ci, docs in window], steps, opts.ray):
        yield int(row["chunk"]), json.loads(row["result"])


def map_text_chunks(window: list[tuple[int, list[dict]]], model, opts) -> Iterator[tuple[int, list[dict], float]]:
    """(chunk index, records with predictions, model seconds) for chunks of records, on a pool of actors."""
    rows = [{"chunk": ci, "result": json.dumps({"rows": rows})} for ci, rows in window]
    for row in map_chunks(rows, [_score_step(model, opts, opts.text_field)], opts.ray):
        result = json.loads(row["result"])
        yield int(row["chunk"]), result["rows"], result["model_seconds"]
