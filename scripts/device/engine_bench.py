#!/usr/bin/env python3
"""Generation benchmark of a running llama-server (stdlib only): decode tokens/s
per stream and time to first token at 1 and 4 concurrent streams."""
import argparse
import json
import statistics
import threading
import time
import urllib.request

PROMPTS = [
    "Explain in a few sentences why the sky is blue.",
    "Write a short paragraph about the history of paper.",
    "Describe how a bicycle works for a child.",
    "Summarise the benefits of regular exercise.",
]


def one(url: str, prompt: str, tokens: int, out: list) -> None:
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "stream": True,
                       "max_tokens": tokens, "temperature": 0.7, "seed": 1, "ignore_eos": True}).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    first = None
    n = 0
    with urllib.request.urlopen(req, timeout=300) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line.endswith("[DONE]"):
                continue
            c = json.loads(line[6:])
            if c.get("choices") and c["choices"][0].get("delta", {}).get("content"):
                if first is None:
                    first = time.perf_counter()
                n += 1
    end = time.perf_counter()
    out.append(((n - 1) / (end - first), (first - t0) * 1000, n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--tokens", type=int, default=256)
    a = ap.parse_args()
    one(a.url, "warm up", 8, [])
    print(f"\n| {a.label} streams | decode tok/s per stream (median) | aggregate tok/s | TTFT p50 ms |\n|---|---|---|---|")
    for streams in (1, 4):
        res: list = []
        t0 = time.perf_counter()
        ts = [threading.Thread(target=one, args=(a.url, PROMPTS[i % 4], a.tokens, res)) for i in range(streams)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        wall = time.perf_counter() - t0
        print(f"| {streams} | {statistics.median(r[0] for r in res):.1f} | {sum(r[2] for r in res) / wall:.1f} | "
              f"{statistics.median(r[1] for r in res):.0f} |")


if __name__ == "__main__":
    main()
