"""Evaluation: base vs adapter on a held-out split (greedy answers + reference perplexity)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from . import events
from .config import Config
from .data import IGNORE_INDEX, Example, collate, encode, load_jsonl
from .metrics import exact_match, rouge_l, token_f1
from .model import ensure_base, load_tokenizer, pick_device
from .train import ADAPTER

REPORT = "eval.json"


def _score(model: Any, tok: Any, examples: list[Example], cfg: Config, device: str) -> tuple[dict[str, float], list[str]]:
    import torch

    f1 = em = rl = 0.0
    nll, count = 0.0, 0
    answers: list[str] = []
    end_ids = [i for i in {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} if isinstance(i, int) and i >= 0]
    for ex in examples:
        prompt = tok.apply_chat_template(ex.prompt, tokenize=False, add_generation_prompt=True)
        ids = tok(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"][:, -max(8, cfg.max_seq_len * 4):].to(device)
        with torch.no_grad():
            out = model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=cfg.max_new_tokens,
                do_sample=False, eos_token_id=end_ids, pad_token_id=tok.pad_token_id,
            )
        pred = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True).strip()
        answers.append(pred)
        f1 += token_f1(pred, ex.answer)
        em += exact_match(pred, ex.answer)
        rl += rouge_l(pred, ex.answer)
        batch = {k: v.to(device) for k, v in collate([encode(tok, ex, cfg.max_seq_len * 4)], tok.pad_token_id).items()}
        n = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
        if n:
            with torch.no_grad():
                loss = model(**batch).loss
            nll += float(loss) * n
            count += n
    k = max(1, len(examples))
    ppl = math.exp(nll / count) if count else float("nan")
    return {"token_f1": f1 / k, "exact_match": em / k, "rouge_l": rl / k, "perplexity": ppl}, answers


def evaluate(cfg: Config) -> dict[str, Any]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    device = pick_device(cfg.device)
    examples = load_jsonl(cfg.split_path(cfg.eval_split))
    if cfg.eval_max_examples > 0:
        examples = examples[: cfg.eval_max_examples]
    if not examples:
        raise ValueError(f"{cfg.split_path(cfg.eval_split)}: no held-out examples")
    adapter_dir = os.path.join(cfg.output_dir, ADAPTER)
    if not os.path.isdir(adapter_dir):
        raise FileNotFoundError(f"no trained adapter in {adapter_dir}: train first")
    base = ensure_base(cfg)
    tok = load_tokenizer(base)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype).to(device)
    model = PeftModel.from_pretrained(model, adapter_dir).to(device)
    model.eval()
    events.emit("start", mode="eval", examples=len(examples), device=device)
    with model.disable_adapter():
        base_m, base_answers = _score(model, tok, examples, cfg, device)
    events.emit("log", message="base scored", metrics=base_m)
    ad_m, ad_answers = _score(model, tok, examples, cfg, device)
    report = {
        "base": base_m,
        "adapter": ad_m,
        "examples": len(examples),
        "improved": ad_m["token_f1"] > base_m["token_f1"],
        "samples": [
            {"reference": ex.answer, "base": b, "adapter": a}
            for ex, b, a in list(zip(examples, base_answers, ad_answers))[:5]
        ],
    }
    with open(os.path.join(cfg.output_dir, REPORT), "w") as f:
        json.dump(report, f, indent=1)
    events.emit("eval", report=report)
    return report
