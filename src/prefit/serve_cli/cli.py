"""`score`: PK paragraphs of DailyMed SPL labels, extracted (and, with issue 5's model support, scored)."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click

from prefit.cli_common import echo_err, setup_logging
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
    label: str
    predicted_label: str | None = None
    probabilities: dict | None = None


def _done_path(out: Path) -> Path:
    return out.with_name(out.name + ".done.json")


def _existing(out: Path) -> tuple[list[dict], set[str]]:
    """Rows already written and the documents already processed (with or without PK paragraphs)."""
    if not out.exists():
        return [], set()
    done = set(json.loads(_done_path(out).read_text())) if _done_path(out).exists() else set()
    rows = []
    if out.suffix == ".csv":
        with open(out, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                r["section_path"] = json.loads(r["section_path"])
                r["generic_names"] = json.loads(r.get("generic_names") or "[]")
                r["paragraph_index"] = int(r["paragraph_index"])
                r["probabilities"] = json.loads(r["probabilities"]) if r.get("probabilities") else None
                rows.append(r)
    else:
        rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines() if x.strip()]
    return rows, done | {r["source"] for r in rows}


def _write(out: Path, rows: list[dict]) -> None:
    from prefit.jsonl import atomic_write, dumps

    with atomic_write(out) as fh:
        if out.suffix == ".csv":
            w = csv.DictWriter(fh, fieldnames=list(ParagraphRecord.__dataclass_fields__))
            w.writeheader()
            for r in rows:
                w.writerow(r | {"section_path": json.dumps(r["section_path"]), "generic_names": json.dumps(r.get("generic_names") or []),
                                "probabilities": json.dumps(r["probabilities"]) if r.get("probabilities") else ""})
        else:
            for r in rows:
                fh.write(dumps(r) + "\n")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="OUT.jsonl or OUT.csv.")
@click.option("--extract-only", is_flag=True, help="Write paragraphs with a label from their ADME heading; no model.")
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), default=None, help="Export directory ('train export').")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--include-tables", is_flag=True, help="Keep tables, as text.")
@click.option("--max-member-mb", type=click.IntRange(min=1), default=256, show_default=True,
              help="Refuse an XML file or archive member that inflates past this size.")
@click.option("--overwrite", is_flag=True, help="Start over instead of skipping documents already in OUT.")
@click.option("-q", "--quiet", is_flag=True)
def main(inputs, output, extract_only, model, device, batch_size, include_tables, max_member_mb, overwrite, quiet):
    """Pharmacokinetics paragraphs (LOINC 43682-4) of DailyMed SPL labels: INPUTS are .xml files,
    directories of them, or DailyMed .zip archives. One record per paragraph."""
    from tqdm.auto import tqdm

    from prefit.serve_cli.inputs import ArchiveLimits, SplSource, iter_sources
    from prefit.serve_cli.spl import find_pk_sections, iter_pk_paragraphs, parse

    setup_logging(quiet)
    if extract_only == (model is not None):
        raise click.UsageError("give either --model EXPORT_DIR (score) or --extract-only (no model)")
    scorer = None
    if model is not None:
        from prefit.export.scorer import Scorer

        try:
            scorer = Scorer(model, device)
        except InputError as e:
            echo_err(f"Error: {e.format()}")
            raise SystemExit(2) from e
        except RuntimeError as e:
            raise click.ClickException(str(e)) from e
    pending: list[ParagraphRecord] = []
    if output.suffix not in (".jsonl", ".csv"):
        raise click.BadParameter(f"must end in .jsonl or .csv, found {output.name!r}", param_hint="-o")
    rows, done = ([], set()) if overwrite else _existing(output)
    already = len(done)
    failed, no_pk, new_docs = [], [], 0
    # Lazy: archive members are read one at a time while their archive is open.
    for src in tqdm(iter_sources(list(inputs), ArchiveLimits(max_member_bytes=max_member_mb << 20)), desc="labels", unit="doc", disable=quiet):
        if not isinstance(src, SplSource):
            failed.append(src)
            continue
        if src.name in done:
            continue
        try:
            doc, root = parse(src.read(), name=src.name)
        except InputError as e:
            failed.append((src.name, e.message))
            continue
        except OSError as e:
            failed.append((src.name, str(e)))
            continue
        paras = list(iter_pk_paragraphs(root, include_tables=include_tables))
        done.add(src.name)
        if not paras:
            no_pk.append((src.name, "empty pharmacokinetics section" if find_pk_sections(root) else "no pharmacokinetics section"))
        new_docs += 1
        recs = [ParagraphRecord(doc.set_id, doc.version, doc.title, doc.generic_names, src.name, p.section_path, p.heading, p.index, p.kind, p.text,
                                p.label) for p in paras]
        pending.extend(recs)
    if scorer is not None and pending:
        # paragraphs of all documents together, batched by length inside Scorer
        t0 = time.perf_counter()
        probs = scorer.probabilities([r.text for r in pending], batch_size)
        rate = len(pending) / max(time.perf_counter() - t0, 1e-9)
        for r, p in zip(pending, probs, strict=True):
            r.predicted_label = scorer.labels[int(p.argmax())]
            r.probabilities = {lab: round(float(x), 6) for lab, x in zip(scorer.labels, p, strict=True)}
        if not quiet:
            echo_err(f"scored {len(pending)} paragraphs with {scorer.variant} on {scorer.device}: {rate:.1f} paragraphs/s")
    rows.extend(asdict(r) for r in pending)
    from prefit.jsonl import write_json_atomic

    _write(output, rows)
    write_json_atomic(_done_path(output), sorted(done))
    for name, why in [] if quiet else no_pk:
        echo_err(f"{name}: {why} (LOINC 43682-4)")
    for name, reason in failed:
        echo_err(f"Error: {name}: {reason} (skipped)")
    if not quiet:
        echo_err(f"wrote {len(rows)} paragraphs to {output} ({new_docs} new document(s), {already} already there, "
             f"{len(no_pk)} without PK, {len(failed)} failed)")
    if failed:
        raise SystemExit(1)


