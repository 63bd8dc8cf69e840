"""The plain batch functions of `score`, the same in one process and on Ray workers: parse a
chunk of SPL documents into paragraph records, add a model's predictions to a batch of records."""

from __future__ import annotations

from dataclasses import dataclass

from prefit.errors import InputError


@dataclass
class ParagraphRecord:
    set_id: str | None
    version: str | None
    title: str | None
    generic_names: list[str]
    source: str
    section_path: list[str]
    heading: str | None
    paragraph_index: int
    kind: str
    text: str
    label: str | None  # from the headings (spl.py); None where no heading names a topic
    predicted_label: str | None = None
    probabilities: dict | None = None


def predict(predictor, texts: list[str], batch_size: int) -> list[tuple[str, dict[str, float]]]:
    """(predicted label, probabilities) per text: the plain batch function."""
    probs = predictor.probabilities(texts, batch_size)
    labels = predictor.labels
    return [(labels[int(p.argmax())], {lab: round(float(x), 6) for lab, x in zip(labels, p, strict=True)}) for p in probs]


def extract_documents(docs: list[tuple[str, str, bytes]], include_tables: bool = False) -> dict:
    """Parse a chunk of documents (name, content key, XML bytes): {"done": keys parsed, "rows":
    paragraph records, "no_pk": [(name, why)], "failed": [(name, reason)]}. A document that fails
    to parse is reported and left out of "done", so a later run tries it again."""
    from prefit.spl.parse import find_pk_sections, iter_pk_paragraphs, parse

    out: dict = {"done": [], "rows": [], "no_pk": [], "failed": []}
    for name, key, data in docs:
        try:
            doc, root = parse(data, name=name)
            paras = list(iter_pk_paragraphs(root, include_tables=include_tables))
        except InputError as e:
            out["failed"].append((name, e.message))
            continue
        except RecursionError:  # sections nested past Python's recursion limit: this document only
            out["failed"].append((name, "sections nested too deep to read"))
            continue
        if not paras:
            out["no_pk"].append((name, "empty pharmacokinetics section" if find_pk_sections(root) else "no pharmacokinetics section"))
        out["done"].append(key)
        # vars(), not asdict(): asdict deep-copies every field, a fifth of the parse time of a corpus (profiled)
        out["rows"].extend(vars(ParagraphRecord(doc.set_id, doc.version, doc.title, list(doc.generic_names), name, list(p.section_path),
                                                p.heading, p.index, p.kind, p.text, p.label)) for p in paras)
    return out


def add_predictions(predictor, rows: list[dict], text_field: str, batch_size: int) -> list[dict]:
    """rows with `predicted_label` and `probabilities` from the text in `text_field`."""
    if predictor is None or not rows:
        return rows
    preds = predict(predictor, [r[text_field] for r in rows], batch_size)
    return [r | {"predicted_label": lab, "probabilities": p} for r, (lab, p) in zip(rows, preds, strict=True)]


class ScoreBatch:
    """Score a batch of records (mapping of columns, Ray Data's "numpy" format): adds
    `predicted_label` and `probabilities` columns. `model_dir` is any prefit model directory
    (prefit.Classifier). Ray: ds.map_batches(ScoreBatch, fn_constructor_kwargs=
    {"model_dir": ...}, concurrency=n_gpus, num_gpus=1)."""

    def __init__(self, model_dir: str, device: str = "auto", text_field: str = "text", batch_size: int = 32) -> None:
        from prefit.model.classifier import Classifier

        self.scorer = Classifier.load(model_dir, device)
        self.text_field, self.batch_size = text_field, batch_size

    def __call__(self, batch: dict) -> dict:
        preds = predict(self.scorer, [str(t) for t in batch[self.text_field]], self.batch_size)
        out = {k: list(v) for k, v in batch.items()}
        out["predicted_label"] = [lab for lab, _ in preds]
        out["probabilities"] = [p for _, p in preds]
        return out
