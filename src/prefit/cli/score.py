"""`score`: DailyMed SPL labels -> pharmacokinetics paragraphs -> ADME labels, or any records of
texts -> predictions, with any prefit model. Parsing and printing only (job.py does the work)."""

from __future__ import annotations

from pathlib import Path

import click

from prefit.cli.common import (
    FiniteFloatRange,
    PrefitCommand,
    echo_err,
    log_options,
    overwrite_option,
    setup_logging,
)


@click.command(cls=PrefitCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path, allow_dash=True), required=True,
              help="OUT.jsonl, OUT.csv or OUT.parquet; '-': JSON Lines on stdout (no resume).")
@click.option("--model", type=click.Path(path_type=Path), default=None,
              help="An export directory ('train export'; onnxruntime) or a run directory (PyTorch, or a tfidf-lr/probe peer) "
                   "[default for labels: the built-in ADME labeller, built and cached on first use].")
@click.option("--extract-only", is_flag=True, help="Labels: write paragraphs with the label of their ADME heading; no model.")
@click.option("--text-field", default="text", show_default=True, help="Texts: the field (column) holding the text.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Documents (labels) or records (texts) per resumable chunk [default: 32 labels, 1024 records].")
@click.option("--include-tables", is_flag=True, help="Labels: keep tables, as text.")
@click.option("--max-xml-mb", type=click.IntRange(min=1), default=32, show_default=True,
              help="Refuse (and report) a label XML larger than this; real labels are under 1 MB.")
@click.option("--max-member-mb", type=click.IntRange(min=1), default=256, show_default=True,
              help="Labels: refuse a nested archive (DailyMed: label + images) that inflates past this size.")
@click.option("--ray", "ray_address", default=None, is_flag=False, flag_value="local", metavar="[ADDRESS]",
              help="Parse and score on Ray: 'local' (the default when the flag has no value) starts Ray here, 'auto' joins the "
                   "running cluster, or a cluster address. Without it Ray is not imported.")
@click.option("--ray-workers", type=click.IntRange(min=1), default=2, show_default=True, help="Scoring actors; each loads the model once.")
@click.option("--ray-cpus-per-worker", type=FiniteFloatRange(min=0), default=1.0, show_default=True)
@click.option("--ray-gpus-per-worker", type=FiniteFloatRange(min=0), default=None, help="[default: 1 when the cluster has GPUs, else 0]")
@overwrite_option("Start over instead of adding to OUT (labels) or resuming an unfinished run.")
@log_options
def main(inputs, output, model, extract_only, text_field, device, batch_size, chunk_size, include_tables, max_member_mb, max_xml_mb, ray_address,
         ray_workers, ray_cpus_per_worker, ray_gpus_per_worker, overwrite, quiet, verbose):
    """Score INPUTS with a prefit model, writing finished work as it goes (a re-run resumes).

    \b
    Labels: .xml SPL files, directories of them, or DailyMed .zip archives (zips of zips):
      one record per pharmacokinetics paragraph (LOINC 43682-4), with its ADME heading label
      and predicted_label and probabilities (from --model, else the built-in ADME labeller;
      none with --extract-only). Documents already in OUT (by
      content) are skipped, so new labels can be added to an existing OUT.
    Texts: .jsonl(.gz), .csv, .tsv or .parquet files: each record plus predicted_label and
      probabilities, in input order (--model required)."""
    from prefit.spl.inputs import ArchiveLimits
    from prefit.stages.score.job import ScoreOptions, is_records_file, score_labels, score_texts

    setup_logging(quiet, verbose)
    from prefit.errors import InputError

    if missing := next((x for x in inputs if not Path(x).exists()), None):
        raise InputError("no such file or directory", file=missing)
    texts = [is_records_file(x) for x in inputs]
    if any(texts) and not all(texts):
        raise click.UsageError("give either record files (.jsonl, .csv, .tsv, .parquet) or SPL labels (.xml, .zip, directories), not both")
    texts = all(texts)
    if texts and extract_only:
        raise click.UsageError("--extract-only reads SPL labels; record files need --model")
    if extract_only and model is not None:
        raise click.UsageError("--extract-only scores nothing: drop --model, or drop --extract-only to score")
    if texts and model is None:
        raise click.UsageError("scoring record files needs --model DIR")
    if not texts and not extract_only and model is None:
        from prefit.builtin import labeller_dir

        if not quiet:
            echo_err("no --model: scoring with the built-in ADME labeller (docs/adme-labeller.md)")
        model = labeller_dir(progress=not quiet)
    ray = None
    if ray_address is not None:
        from prefit.distributed import RayOptions

        ray = RayOptions(ray_address, ray_workers, ray_cpus_per_worker, ray_gpus_per_worker)
    opts = ScoreOptions(device=device, batch_size=batch_size, include_tables=include_tables, chunk=chunk_size or (1024 if texts else 32),
                        text_field=text_field, overwrite=overwrite, progress=not quiet, limits=ArchiveLimits(max_member_bytes=max_member_mb << 20, max_xml_bytes=max_xml_mb << 20),
                        ray=ray)
    to_stdout = str(output) == "-"
    if to_stdout:  # scored into a private folder, then streamed: stdout cannot be resumed or appended to
        import tempfile

        tmp = tempfile.TemporaryDirectory(prefix="prefit-score-")
        output = Path(tmp.name) / "out.jsonl"
    try:
        s = (score_texts if texts else score_labels)(list(inputs), output, model, opts)
    except RuntimeError as e:  # e.g. --device cuda without a GPU
        raise click.ClickException(str(e)) from e
    if to_stdout:
        import shutil
        import sys

        with open(output, "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        sys.stdout.flush()
        tmp.cleanup()
        output = "-"
    if model is not None and s.scored and not quiet:
        what = "texts" if texts else "paragraphs"
        where = f"with {s.variant} on {s.device}" if ray is None else f"on Ray ({ray_workers} workers)"
        echo_err(f"scored {s.scored} {what} {where}: {s.scored / max(s.model_seconds, 1e-9):.1f} {what}/s"
                 + (" per worker" if ray is not None else ""))
    if not quiet:
        for name, why in s.no_pk:
            echo_err(f"{name}: {why} (LOINC 43682-4)")
    for name, reason in s.failed:
        echo_err(f"Error: {name}: {reason} (skipped)")
    if not quiet:
        if texts:
            echo_err(f"wrote {s.rows} records to {output} ({s.new} scored by this run)")
        else:
            echo_err(f"wrote {s.rows} paragraphs to {output} ({s.new} new document(s), {s.already} already there, "
                     f"{len(s.no_pk)} without PK, {len(s.failed)} failed)")
    if s.failed:
        raise SystemExit(1)
