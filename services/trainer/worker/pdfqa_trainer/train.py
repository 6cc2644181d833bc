"""LoRA training loop: gradient accumulation, periodic resumable checkpoints, JSON progress.

A hand-written loop rather than transformers.Trainer: it keeps the checkpoint format and the
progress protocol ours, and behaves the same on transformers 4.x and 5.x. Multi-GPU runs go
through accelerate (`accelerate launch --config_file accelerate/ddp.yaml -m pdfqa_trainer
train ...`): each process takes every world_size-th micro-batch, only rank 0 writes."""

from __future__ import annotations

import json
import math
import os
import random
import resource
import shutil
import signal
import time
from typing import Any

from . import events
from .config import Config
from .data import collate, encode, load_jsonl
from .model import ensure_base, lora_model, load_base, load_tokenizer, pick_device

CHECKPOINTS = "checkpoints"
ADAPTER = "adapter"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def latest_checkpoint(output_dir: str) -> str | None:
    root = os.path.join(output_dir, CHECKPOINTS)
    if not os.path.isdir(root):
        return None
    done = sorted(d for d in os.listdir(root) if d.startswith("step-") and os.path.exists(os.path.join(root, d, "state.json")))
    return os.path.join(root, done[-1]) if done else None


class _Stop:
    """Turns SIGTERM into a checkpoint at the next step boundary."""

    def __init__(self) -> None:
        self.requested = False
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, *_: Any) -> None:
        self.requested = True


def schedule(warmup: int, total: int):
    def f(step: int) -> float:
        if warmup > 0 and step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def train(cfg: Config) -> dict[str, Any]:
    import torch
    from accelerate import Accelerator
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    acc = Accelerator(cpu=device == "cpu", mixed_precision="bf16" if device == "cuda" else "no")
    events.set_enabled(acc.is_main_process)
    world, rank = acc.num_processes, acc.process_index

    train_set = load_jsonl(cfg.split_path("train"))
    if not train_set:
        raise ValueError(f"{cfg.split_path('train')}: no training examples")
    base = ensure_base(cfg) if acc.is_main_process else cfg.base_dir
    acc.wait_for_everyone()
    tok = load_tokenizer(base)
    encoded = [encode(tok, ex, cfg.max_seq_len) for ex in train_set]

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    model = lora_model(cfg, load_base(cfg, base, device))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total_params = sum(p.numel() for p in model.parameters())
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)

    B, A = cfg.batch_size, cfg.gradient_accumulation_steps
    micro_per_epoch = math.ceil(len(encoded) / B)
    total = cfg.max_steps if cfg.max_steps > 0 else max(1, math.ceil(cfg.epochs * micro_per_epoch / (A * world)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule(int(cfg.warmup_ratio * total), total))

    step, tokens_seen = 0, 0
    ck = latest_checkpoint(cfg.output_dir)
    if ck:
        set_peft_model_state_dict(model, load_file(os.path.join(ck, "adapter_model.safetensors")))
        opt.load_state_dict(torch.load(os.path.join(ck, "optimizer.pt"), weights_only=False))
        sched.load_state_dict(torch.load(os.path.join(ck, "scheduler.pt"), weights_only=False))
        rng = torch.load(os.path.join(ck, "rng.pt"), weights_only=False)
        torch.set_rng_state(rng["torch"])
        random.setstate(rng["python"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        with open(os.path.join(ck, "state.json")) as f:
            st = json.load(f)
        step, tokens_seen = int(st["step"]), int(st.get("tokens_seen", 0))
    start_step = step
    model, opt = acc.prepare(model, opt)
    model.train()

    perms: dict[int, list[int]] = {}

    def micro_batch(k: int) -> dict[str, Any]:
        epoch, pos = divmod(k, micro_per_epoch)
        if epoch not in perms:
            g = torch.Generator().manual_seed(cfg.seed * 1000003 + epoch)
            perms[epoch] = torch.randperm(len(encoded), generator=g).tolist()
        idx = perms[epoch][pos * B:(pos + 1) * B]
        return collate([encoded[i] for i in idx], tok.pad_token_id)

    def save_checkpoint(at: int, loss: float) -> str:
        root = os.path.join(cfg.output_dir, CHECKPOINTS)
        d = os.path.join(root, f"step-{at:08d}")
        tmp = d + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        acc.unwrap_model(model).save_pretrained(tmp)
        torch.save(opt.state_dict(), os.path.join(tmp, "optimizer.pt"))
        torch.save(sched.state_dict(), os.path.join(tmp, "scheduler.pt"))
        torch.save(
            {
                "torch": torch.get_rng_state(),
                "python": random.getstate(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
            os.path.join(tmp, "rng.pt"),
        )
        with open(os.path.join(tmp, "state.json"), "w") as f:
            json.dump({"step": at, "total_steps": total, "tokens_seen": tokens_seen, "loss": loss}, f)
        shutil.rmtree(d, ignore_errors=True)
        os.replace(tmp, d)
        old = sorted(x for x in os.listdir(root) if x.startswith("step-") and not x.endswith(".tmp"))
        for x in old[: max(0, len(old) - cfg.keep_checkpoints)]:
            shutil.rmtree(os.path.join(root, x), ignore_errors=True)
        return d

    events.emit(
        "start", step=step, total_steps=total, device=device, world_size=world,
        resumed_from=ck, examples=len(encoded), trainable_params=trainable, total_params=total_params,
    )
    stop = _Stop()
    run_tokens, t0, loss_v = 0, time.perf_counter(), float("nan")
    while step < total:
        ts = time.perf_counter()
        losses, step_tokens = [], 0
        for a in range(A):
            batch = {k: v.to(acc.device) for k, v in micro_batch((step * A + a) * world + rank).items()}
            out = model(**batch)
            acc.backward(out.loss / A)
            losses.append(float(out.loss.detach()))
            step_tokens += int(batch["attention_mask"].sum())
        acc.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        step_tokens *= world
        tokens_seen += step_tokens
        run_tokens += step_tokens
        loss_v = sum(losses) / len(losses)
        elapsed = time.perf_counter() - t0
        tps = run_tokens / elapsed if elapsed > 0 else 0.0
        eta = (total - step) * elapsed / max(1, step - start_step)
        events.emit(
            "progress", step=step, total_steps=total, loss=round(loss_v, 5), tokens_per_second=round(tps, 1),
            eta_seconds=round(eta, 1), step_seconds=round(time.perf_counter() - ts, 3),
            learning_rate=sched.get_last_lr()[0],
        )
        if acc.is_main_process and (step % cfg.checkpoint_every == 0 or stop.requested) and step < total:
            events.emit("checkpoint", step=step, path=save_checkpoint(step, loss_v))
        acc.wait_for_everyone()
        if stop.requested and step < total:
            events.emit("stopped", step=step, total_steps=total)
            raise SystemExit(143)

    result: dict[str, Any] = {"step": step, "total_steps": total, "loss": loss_v, "device": device}
    if acc.is_main_process:
        final = os.path.join(cfg.output_dir, ADAPTER)
        tmp = final + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        acc.unwrap_model(model).save_pretrained(tmp)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        elapsed = time.perf_counter() - t0
        result.update(
            adapter_dir=final,
            base_dir=base,
            tokens_seen=tokens_seen,
            tokens_per_second=round(run_tokens / elapsed, 1) if elapsed > 0 else 0.0,
            train_seconds=round(elapsed, 2),
            peak_rss_mb=round(peak_rss_mb(), 1),
            peak_gpu_mb=round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else 0.0,
            total_params=total_params,
            trainable_params=trainable,
        )
        events.emit("done", **result)
    return result
