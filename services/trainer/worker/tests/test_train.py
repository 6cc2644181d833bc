"""Real training on CPU with the served base model: a few steps, kill, resume, evaluate."""

import json
import os
from pathlib import Path
from typing import Any

from conftest import run_worker


def test_corrupt_dataset_is_an_error_event(job: dict[str, Any], tmp_path: Path, dataset: Path) -> None:
    with open(dataset / "train.jsonl", "a") as f:
        f.write('{"question": "broken\n')
    rc, events = run_worker("train", job, tmp_path)
    assert rc == 2
    assert events[-1]["event"] == "error" and events[-1]["line"] == 7, events[-1]
    assert "train.jsonl:7:" in events[-1]["message"]


def test_train_kill_resume_evaluate(job: dict[str, Any], tmp_path: Path) -> None:
    rc, events = run_worker("train", job, tmp_path, kill_after="checkpoint")
    assert rc != 0
    start = events[0] if events[0]["event"] == "start" else next(e for e in events if e["event"] == "start")
    assert start["total_steps"] == 3 and start["device"] == "cpu" and start["resumed_from"] is None
    assert start["trainable_params"] == 30 * 8 * ((576 + 576) + (576 + 192))  # r=8 on q_proj, v_proj
    prog = [e for e in events if e["event"] == "progress"]
    assert prog and prog[0]["step"] == 1 and prog[0]["loss"] > 0 and prog[0]["tokens_per_second"] > 0
    ck = Path(job["output_dir"]) / "checkpoints" / "step-00000001"
    for name in ("adapter_model.safetensors", "optimizer.pt", "scheduler.pt", "rng.pt", "state.json"):
        assert (ck / name).exists(), name

    rc, events = run_worker("train", job, tmp_path)
    assert rc == 0, events[-1]
    start = next(e for e in events if e["event"] == "start")
    assert start["resumed_from"] == str(ck) and start["step"] == 1
    steps = [e["step"] for e in events if e["event"] == "progress"]
    assert steps == [2, 3]
    done = events[-1]
    assert done["event"] == "done" and done["step"] == 3 and done["peak_rss_mb"] > 0
    assert os.path.exists(os.path.join(done["adapter_dir"], "adapter_model.safetensors"))

    rc, events = run_worker("eval", job, tmp_path)
    assert rc == 0, events[-1]
    rep = next(e for e in events if e["event"] == "eval")["report"]
    assert rep["examples"] == 2
    for side in ("base", "adapter"):
        m = rep[side]
        assert 0 <= m["token_f1"] <= 1 and 0 <= m["exact_match"] <= 1 and 0 <= m["rouge_l"] <= 1
        assert m["perplexity"] > 1
    assert rep["base"]["perplexity"] != rep["adapter"]["perplexity"]
    saved = json.loads((Path(job["output_dir"]) / "eval.json").read_text())
    assert saved["improved"] == rep["improved"]
