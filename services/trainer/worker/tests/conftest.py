"""Fixtures: the real base model from the pdfqa cache (skipped when absent) and tiny datasets."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

WORKER = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(WORKER))

CACHE = Path(os.environ.get("PDFQA_CACHE", Path.home() / ".cache" / "pdfqa"))
GGUF = Path(os.environ.get("PDFQA_CHAT_MODEL", CACHE / "models" / "smollm2-135m-instruct-q4_1.gguf"))
BASE_DIR = CACHE / "trainer" / "base" / GGUF.stem
TINY = WORKER / "testdata" / "tiny.jsonl"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    d = tmp_path / "ds"
    d.mkdir()
    lines = TINY.read_text().splitlines()
    (d / "train.jsonl").write_text("\n".join(lines[:6]) + "\n")
    (d / "test.jsonl").write_text("\n".join(lines[6:]) + "\n")
    return d


@pytest.fixture
def job(tmp_path: Path, dataset: Path) -> dict[str, Any]:
    if not GGUF.exists():
        pytest.skip(f"base model {GGUF} missing: run scripts/setup/all.sh")
    return {
        "base_gguf": str(GGUF),
        "base_dir": str(BASE_DIR),
        "dataset_dir": str(dataset),
        "output_dir": str(tmp_path / "out"),
        "max_steps": 3,
        "batch_size": 2,
        "max_seq_len": 64,
        "checkpoint_every": 1,
        "max_new_tokens": 8,
        "threads": 2,
    }


def run_worker(mode: str, cfg: dict[str, Any], tmp_path: Path, kill_after: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    """Runs the worker CLI; kill_after SIGKILLs it at the first event of that name."""
    path = tmp_path / f"{mode}.json"
    path.write_text(json.dumps(cfg))
    env = dict(os.environ, PYTHONPATH=str(WORKER))
    p = subprocess.Popen([sys.executable, "-m", "pdfqa_trainer", mode, "--config", str(path)],
                         stdout=subprocess.PIPE, text=True, env=env, cwd=str(WORKER))
    events: list[dict[str, Any]] = []
    assert p.stdout is not None
    for line in p.stdout:
        ev = json.loads(line)
        events.append(ev)
        if kill_after and ev["event"] == kill_after:
            p.kill()
            break
    return p.wait(), events


__all__ = ["run_worker", "shutil"]
