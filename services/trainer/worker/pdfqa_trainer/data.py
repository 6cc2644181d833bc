"""Dataset files: JSONL of chat messages (or question/answer/context records), rendered
with the tokenizer's chat template, with the loss on the answer tokens only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

# The system prompt the answering model is trained and evaluated with; the Go service
# writes the same text into built datasets (services/trainer/dataset.go).
SYSTEM_PROMPT = "Answer the question using only the context. Be brief and exact."

IGNORE_INDEX = -100


class DatasetError(ValueError):
    """A dataset line that cannot be used; the message names the file and line."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


Message = dict[str, str]


@dataclass
class Example:
    messages: list[Message]  # ends with the assistant's answer

    @property
    def prompt(self) -> list[Message]:
        return self.messages[:-1]

    @property
    def answer(self) -> str:
        return self.messages[-1]["content"]


def to_messages(rec: Any) -> list[Message]:
    """Normalises one record; raises ValueError with the reason."""
    if not isinstance(rec, dict):
        raise ValueError("a line must be a JSON object")
    if "messages" in rec:
        msgs = rec["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise ValueError('"messages" must be a non-empty list')
        out: list[Message] = []
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise ValueError(f"message {i} needs string role and content")
            if m["role"] not in ("system", "user", "assistant"):
                raise ValueError(f"message {i} has unknown role {m['role']!r}")
            out.append({"role": m["role"], "content": m["content"]})
        if out[-1]["role"] != "assistant" or not out[-1]["content"].strip():
            raise ValueError("the last message must be a non-empty assistant answer")
        if not any(m["role"] == "user" for m in out):
            raise ValueError("no user message")
        return out
    q, a = rec.get("question"), rec.get("answer")
    if not isinstance(q, str) or not q.strip() or not isinstance(a, str) or not a.strip():
        raise ValueError('need "messages" or non-empty string "question" and "answer"')
    ctx = rec.get("context") or ""
    if not isinstance(ctx, str):
        raise ValueError('"context" must be a string')
    return qa_messages(q, a, ctx)


def qa_messages(question: str, answer: str, context: str = "") -> list[Message]:
    user = f"Context:\n{context.strip()}\n\nQuestion: {question.strip()}" if context.strip() else question.strip()
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
        {"role": "assistant", "content": answer.strip()},
    ]


def load_jsonl(path: str) -> list[Example]:
    """Reads a split; a corrupt line raises DatasetError naming its line number."""
    out: list[Example] = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(path, n, f"invalid JSON: {e.msg} (column {e.colno})") from e
            try:
                out.append(Example(to_messages(rec)))
            except ValueError as e:
                raise DatasetError(path, n, str(e)) from e
    return out


class Tokenizer(Protocol):
    def apply_chat_template(self, conversation: Any, **kw: Any) -> Any: ...
    def __call__(self, text: str, **kw: Any) -> Any: ...


def render(tok: Tokenizer, ex: Example) -> tuple[str, str]:
    """Returns (prompt text, completion text) under the tokenizer's chat template."""
    prompt = tok.apply_chat_template(ex.prompt, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(ex.messages, tokenize=False)
    if not full.startswith(prompt):  # templates that rewrite history: fall back to plain append
        return prompt, ex.answer
    return prompt, full[len(prompt):]


def encode(tok: Tokenizer, ex: Example, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (prompt masked with IGNORE_INDEX), at most max_len tokens.

    Too-long examples lose the start of the prompt (usually context), never the answer
    unless the answer alone exceeds max_len."""
    prompt, completion = render(tok, ex)
    p = list(tok(prompt, add_special_tokens=False)["input_ids"])
    c = list(tok(completion, add_special_tokens=False)["input_ids"])
    c = c[:max_len]
    keep = max_len - len(c)
    p = p[len(p) - keep:] if keep > 0 else []
    return p + c, [IGNORE_INDEX] * len(p) + c


def collate(rows: Sequence[tuple[list[int], list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
