"""Job configuration: one JSON file, every field optional except the paths."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A config file that cannot be used."""


@dataclass
class Config:
    # Paths.
    base_gguf: str = ""  # the served model (GGUF); dequantized once into base_dir
    base_dir: str = ""  # reusable HF base directory (config + tokenizer + weights)
    dataset_dir: str = ""  # holds train.jsonl, validation.jsonl, test.jsonl
    output_dir: str = ""  # checkpoints/, adapter/, eval.json
    # LoRA.
    r: int = 8
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    # Optimisation.
    learning_rate: float = 2e-4
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    epochs: int = 1
    max_steps: int = 0  # optimizer steps; 0 = epochs decide
    batch_size: int = 4
    gradient_accumulation_steps: int = 1
    checkpoint_every: int = 50
    keep_checkpoints: int = 2
    max_seq_len: int = 512
    seed: int = 0
    # Hardware.
    device: str = "auto"  # auto | cpu | cuda
    qlora: bool = False  # 4-bit base with bitsandbytes (CUDA only)
    threads: int = 0  # torch CPU threads; 0 = torch default
    # Evaluation.
    eval_split: str = "test"
    eval_max_examples: int = 0
    max_new_tokens: int = 64

    @classmethod
    def load(cls, path: str) -> "Config":
        try:
            with open(path, encoding="utf-8") as f:
                raw = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"config {path}: {e}") from e
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Config":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - names)
        if unknown:
            raise ConfigError(f"unknown config keys: {', '.join(unknown)}")
        cfg = cls(**{k: v for k, v in raw.items() if v is not None})
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if not self.output_dir:
            raise ConfigError("output_dir is required")
        if not self.base_dir and not self.base_gguf:
            raise ConfigError("base_dir or base_gguf is required")
        for name in ("r", "lora_alpha", "batch_size", "gradient_accumulation_steps", "max_seq_len", "checkpoint_every"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError("lora_dropout must be in [0, 1)")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError("device must be auto, cpu or cuda")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ConfigError("set epochs or max_steps")

    def split_path(self, split: str) -> str:
        return os.path.join(self.dataset_dir, f"{split}.jsonl")
