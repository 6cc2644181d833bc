from pathlib import Path

import pytest

from pdfqa_trainer.config import Config, ConfigError
from pdfqa_trainer.data import SYSTEM_PROMPT, DatasetError, load_jsonl


def test_loads_both_formats(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text(
        '{"question": "Q?", "answer": "A", "context": "C"}\n\n'
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n'
    )
    exs = load_jsonl(str(p))
    assert len(exs) == 2
    assert exs[0].messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert exs[0].messages[1]["content"] == "Context:\nC\n\nQuestion: Q?"
    assert exs[1].answer == "yo"


@pytest.mark.parametrize(
    "bad,reason",
    [
        ('{"question": "Q?", "answer": ', "invalid JSON"),
        ('{"question": "Q?"}', "question"),
        ('{"messages": [{"role": "user", "content": "hi"}]}', "assistant"),
        ('{"messages": [{"role": "bot", "content": "hi"}]}', "unknown role"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_corrupt_line_names_line_number(tmp_path: Path, bad: str, reason: str) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"question": "Q?", "answer": "A"}\n{"question": "R?", "answer": "B"}\n' + bad + "\n")
    with pytest.raises(DatasetError) as ei:
        load_jsonl(str(p))
    assert ei.value.line == 3
    assert f"{p}:3:" in str(ei.value) and reason in str(ei.value)


def test_config_defaults_and_validation() -> None:
    c = Config.from_dict({"output_dir": "/x", "base_dir": "/b"})
    assert (c.r, c.lora_alpha, c.lora_dropout, c.target_modules) == (8, 32, 0.05, ["q_proj", "v_proj"])
    with pytest.raises(ConfigError, match="unknown config keys: nope"):
        Config.from_dict({"output_dir": "/x", "base_dir": "/b", "nope": 1})
    with pytest.raises(ConfigError, match="batch_size"):
        Config.from_dict({"output_dir": "/x", "base_dir": "/b", "batch_size": 0})
