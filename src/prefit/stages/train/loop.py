"""One explicit training loop: batch, forward, loss, backward, (SAM), clip, step, log.

`train_stage` runs one Stage; frozen parameters get no gradient, and because nothing below the
first trainable layer requires grad, autograd builds no graph there either. The forward computes
the top layer for [CLS] only where the model allows it (cls_top.py): same logits, less work.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable

import torch

from prefit.model.cls_top import classify
from prefit.stages.train.checkpoint import to_lists, to_tuples
from prefit.stages.train.data import Split, collate, length_grouped_batches
from prefit.stages.train.freeze import trainable
from prefit.stages.train.losses import ImbalanceLoss
from prefit.stages.train.recipes import Stage
from prefit.stages.train.sam import SAM

log = logging.getLogger("prefit")


def resolve_device(device: str) -> torch.device:
    from prefit.model.registry import resolve_device as resolve

    return torch.device(resolve(device, "torch"))


def autocast(device: torch.device):
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # numpy is a dependency; keep the trainer importable without it anyway
        pass


def _forward(model, ids, mask, cls_only: bool = True):
    return classify(model, ids, mask, cls_only=cls_only)


def train_stage(model, stage: Stage, split: Split, num_labels: int, pad_id: int, device: torch.device, *, seed: int,
                group_by_length: bool = True, pad_to: int | None = None, progress: bool = True, cls_only: bool = True,
                log_every: int = 50, resume: dict | None = None, on_epoch: Callable[[dict], None] | None = None) -> dict:
    """Train `model` in place for one stage and return its training log.

    cls_only: compute the top layer for the [CLS] position only (cls_top.py; same logits, less work).
    log_every: steps between the DEBUG lines (loss of the last steps, speed) that train.log records;
    the progress bar shows the same running loss.
    on_epoch: called after every epoch with the loop's state (optimizer, schedule, batch-order
    generator, history), which `resume` takes back to continue with the next epoch (checkpoint.py);
    the model's weights and the global generators (dropout) are the caller's to save and restore."""
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    rng = random.Random(seed)
    loss_fn = ImbalanceLoss(stage.loss, split.counts(num_labels))
    lengths = [len(x) for x in split.input_ids]
    steps_per_epoch = (len(lengths) + stage.batch_size - 1) // stage.batch_size
    history = {"stage": stage.name, "epochs": [], "trainable_parameters": 0}
    with trainable(model, stage.trainable) as names:
        params = [p for n, p in model.named_parameters() if p.requires_grad]
        history["trainable_parameters"] = sum(p.numel() for p in params)
        log.info("stage %s: %d examples, %d epoch(s), lr %g, %d trainable tensors (%d parameters)", stage.name, len(lengths),
                 stage.epochs, stage.lr, len(names), history["trainable_parameters"])
        decay = [p for n, p in model.named_parameters() if p.requires_grad and not n.endswith("bias") and "LayerNorm" not in n]
        no_decay = [p for n, p in model.named_parameters() if p.requires_grad and (n.endswith("bias") or "LayerNorm" in n)]
        groups = [{"params": decay, "weight_decay": stage.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if stage.sam_rho > 0:
            opt = SAM(groups, torch.optim.AdamW, rho=stage.sam_rho, lr=stage.lr)
            base = opt.base_optimizer
        else:
            opt = base = torch.optim.AdamW(groups, lr=stage.lr)
        total = steps_per_epoch * stage.epochs
        sched = get_linear_schedule_with_warmup(base, int(stage.warmup_ratio * total), max(total, 1))
        model.train()
        step, start = 0, 0
        if resume is not None:
            base.load_state_dict(resume["optimizer"])
            sched.load_state_dict(resume["scheduler"])
            rng.setstate(to_tuples(resume["batch_rng"]))
            history["epochs"] = list(resume["history"]["epochs"])
            start = len(history["epochs"])
            step = start * steps_per_epoch
            log.info("stage %s: resuming after epoch %d/%d", stage.name, start, stage.epochs)
        for epoch in range(start, stage.epochs):
            t0, seen, loss_sum = time.perf_counter(), 0, 0.0
            window, window_n, t_window = 0.0, 0, time.perf_counter()
            batches = length_grouped_batches(lengths, stage.batch_size, rng, group=group_by_length)
            bar = tqdm(batches, desc=f"{stage.name} {epoch + 1}/{stage.epochs}", unit="step", disable=not progress, leave=False)
            for batch in bar:
                ids, mask = collate([split.input_ids[i] for i in batch], pad_id, pad_to)
                ids, mask = ids.to(device), mask.to(device)
                y = torch.tensor([split.y[i] for i in batch], device=device)
                with autocast(device):
                    loss = loss_fn(_forward(model, ids, mask, cls_only), y, epoch)
                loss.backward()
                if isinstance(opt, SAM):
                    torch.nn.utils.clip_grad_norm_(params, stage.max_grad_norm)
                    opt.first_step(zero_grad=True)
                    with autocast(device):
                        loss_fn(_forward(model, ids, mask, cls_only), y, epoch).backward()
                    torch.nn.utils.clip_grad_norm_(params, stage.max_grad_norm)
                    opt.second_step(zero_grad=True)
                else:
                    torch.nn.utils.clip_grad_norm_(params, stage.max_grad_norm)
                    opt.step()
                    opt.zero_grad(set_to_none=True)
                sched.step()
                step += 1
                seen += len(batch)
                loss_sum += loss.item() * len(batch)
                window += loss.item() * len(batch)
                window_n += len(batch)
                if step % log_every == 0:
                    bar.set_postfix(loss=f"{window / window_n:.4f}", refresh=False)
                    log.debug("stage %s epoch %d step %d/%d: loss %.4f (last %d steps), %.1f examples/s", stage.name, epoch + 1, step,
                              total, window / window_n, log_every, window_n / max(time.perf_counter() - t_window, 1e-9))
                    window, window_n, t_window = 0.0, 0, time.perf_counter()
            rec = {"epoch": epoch + 1, "loss": loss_sum / max(seen, 1), "seconds": time.perf_counter() - t0,
                   "examples_per_second": seen / max(time.perf_counter() - t0, 1e-9)}
            history["epochs"].append(rec)
            log.info("stage %s epoch %d/%d: loss %.4f, %.1f examples/s", stage.name, epoch + 1, stage.epochs, rec["loss"],
                     rec["examples_per_second"])
            if on_epoch is not None:
                on_epoch({"optimizer": base.state_dict(), "scheduler": sched.state_dict(), "batch_rng": to_lists(rng.getstate()),
                          "history": {**history, "epochs": list(history["epochs"])}})
    model.eval()
    return history


def evaluate(model, tok, split: Split, labels: list[str], train_counts: list[int], device: torch.device, *, max_length: int,
             read: str, max_windows: int, batch_size: int = 64) -> dict:
    """Metrics of `split` under `read` (windows.py), with every reading's full metrics under
    "readings": one pass scores every window, and the first reading is each text's first window,
    so both cost what the windowed one costs."""
    from prefit.model.windows import READS, per_text, softmax, window_ids, window_logits
    from prefit.stages.train.metrics import classification_metrics

    model.eval()

    @torch.no_grad()
    def logits_of(ids, mask):
        with autocast(device):
            return _forward(model, torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)).float().cpu().numpy()

    seqs, owner = window_ids(tok, [r.text for r in split.records], max_length, max_windows)
    lg = window_logits(seqs, tok.pad_token_id, logits_of, batch_size)
    per_reading = {r: per_text(lg, owner, len(split.y), r) for r in READS}
    readings = {r: classification_metrics(split.y, per_reading[r].argmax(-1).tolist(), labels, train_counts) for r in READS}
    readings["windows"].update(max_windows=max_windows, windows=len(seqs))
    for r in READS:  # each text's probabilities, so that runs can be ensembled or calibrated afterwards
        readings[r]["eval_proba"] = eval_proba(softmax(per_reading[r]))
    return {**{k: v for k, v in readings[read].items() if k != "eval_proba"}, "read": read, "readings": readings}


def eval_proba(proba) -> list[list[float]]:
    """Probabilities per evaluation text (columns in the run's label order), rounded for metrics.json."""
    return [[round(float(p), 5) for p in row] for row in proba]
