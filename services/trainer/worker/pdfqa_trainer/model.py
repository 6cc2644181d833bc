"""The base model: dequantized once from the served GGUF into a reusable HF directory,
then loaded for LoRA training or evaluation on CPU or CUDA."""

from __future__ import annotations

import fcntl
import os
import shutil
from typing import Any

from . import events
from .config import Config

BASE_STAMP = ".pdfqa-base-complete"


def pick_device(want: str) -> str:
    import torch

    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device cuda requested but torch.cuda.is_available() is false")
    if want == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return want


def ensure_base(cfg: Config) -> str:
    """Returns the HF base directory, creating it from cfg.base_gguf if needed.

    Conversion takes about a minute on CPU (transformers dequantizes every tensor), so it
    runs once per base_dir, under a file lock so concurrent jobs wait instead of racing."""
    base = cfg.base_dir
    if not base:
        raise RuntimeError("base_dir is required")
    if os.path.exists(os.path.join(base, BASE_STAMP)):
        return base
    if not cfg.base_gguf or not os.path.isfile(cfg.base_gguf):
        raise RuntimeError(f"no HF base in {base} and base GGUF {cfg.base_gguf!r} is missing")
    os.makedirs(os.path.dirname(os.path.abspath(base)), exist_ok=True)
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(base, BASE_STAMP)):
            return base
        events.emit("log", message=f"dequantizing {cfg.base_gguf} into {base} (once)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        d, f = os.path.split(os.path.abspath(cfg.base_gguf))
        tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
        model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f)
        tmp = base + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)  # safetensors by default on 4.x and 5.x
        tok.save_pretrained(tmp)
        with open(os.path.join(tmp, BASE_STAMP), "w") as s:
            s.write(cfg.base_gguf + "\n")
        shutil.rmtree(base, ignore_errors=True)
        os.replace(tmp, base)
    return base


def load_tokenizer(base: str) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_base(cfg: Config, base: str, device: str) -> Any:
    """Loads the base for training: fp32 on CPU, bf16 on CUDA, 4-bit NF4 when qlora is
    asked for and bitsandbytes is importable (otherwise bf16, with a warning event)."""
    import torch
    from transformers import AutoModelForCausalLM

    kw: dict[str, Any] = {}
    if device == "cuda":
        kw["dtype"] = torch.bfloat16
        if cfg.qlora:
            try:
                import bitsandbytes  # noqa: F401
                from transformers import BitsAndBytesConfig

                kw["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type="nf4",
                    bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16,
                )
                kw["device_map"] = {"": torch.cuda.current_device()}
            except ImportError:
                events.emit("warning", message="qlora requested but bitsandbytes is not installed: training in bf16")
    elif cfg.qlora:
        events.emit("warning", message="qlora needs CUDA: training in fp32 on CPU")
    model = AutoModelForCausalLM.from_pretrained(base, **kw)
    if "quantization_config" in kw:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    elif device == "cuda":
        model.to("cuda")
    return model


def lora_model(cfg: Config, model: Any) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    lc = LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        task_type=TaskType.CAUSAL_LM,
        bias="none",
    )
    return get_peft_model(model, lc)
