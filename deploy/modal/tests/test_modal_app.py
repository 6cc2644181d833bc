"""The Modal app, imported with the pinned `modal` package (no deploy, no credentials):
its functions' GPU, image and scaling settings as Modal would send them, the engine's
router (the pinned llama-server on CPU, the real models) and the trainer's job layout."""

from __future__ import annotations

import importlib.util
import itertools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from modal._image import PYTHON_STANDALONE_VERSIONS
from modal._utils.async_utils import synchronizer

APP = Path(__file__).resolve().parents[1] / "pdfqa_modal.py"
_n = itertools.count()


def load(monkeypatch, **env):
    """Imports the app afresh under env (PDFQA_MODAL_* as `modal deploy` would see them)."""
    for k in list(os.environ):
        if k.startswith("PDFQA_MODAL_"):
            monkeypatch.delenv(k)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    spec = importlib.util.spec_from_file_location(f"pdfqa_modal_{next(_n)}", APP)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def _cells(fn) -> dict:
    return dict(zip(fn.__code__.co_freevars, [c.cell_contents for c in fn.__closure__ or ()]))


def definition(fn) -> dict:
    """What Modal's loader sends for a function: the values its _load closure holds
    (autoscaler_settings, webhook_config, gpu, timeout, max_concurrent_inputs, ...)."""
    return _cells(synchronizer._translate_in(fn)._load)


def dockerfile(image) -> tuple[list[str], list]:
    """An image's Dockerfile commands, base first, and its mounted directories."""
    version = max(v for v in PYTHON_STANDALONE_VERSIONS if v[0].isdigit())
    im, layers, mounts = synchronizer._translate_in(image), [], []
    while im is not None:
        c = _cells(im._load)
        if "mount" in c:  # add_local_dir without copy: mounted at start
            mounts.append(c["mount"])
            im = c["base_image"]
            continue
        if "single_layer_image" in c:  # from_registry(add_python=...): FROM tag + Python
            im = c["single_layer_image"]
            continue
        df = c.get("dockerfile_function")
        layers.append(df(version).commands if df else [])
        bases = list((c.get("base_images") or {}).values())
        im = bases[0] if bases else None
    return [cmd for layer in reversed(layers) for cmd in layer], mounts


def test_settings_come_from_the_environment(monkeypatch):
    m = load(monkeypatch)
    d = m.Settings()
    assert (d.gpu, d.min_containers, d.max_containers, d.scaledown_window, d.concurrency) == ("L40S", 0, 4, 600, 8)
    s = m.Settings.from_env({"PDFQA_MODAL_GPU": "H100", "PDFQA_MODAL_MIN_CONTAINERS": "1", "PDFQA_MODAL_MAX_CONTAINERS": "3",
                             "PDFQA_MODAL_SCALEDOWN_WINDOW": "900", "PDFQA_MODAL_CONCURRENCY": "16"})
    assert (s.gpu, s.min_containers, s.max_containers, s.scaledown_window, s.concurrency) == ("H100", 1, 3, 900, 16)
    assert m.Settings.from_env(s.as_env()) == s  # what the images carry reads back the same
    for bad in ({"PDFQA_MODAL_MIN_CONTAINERS": "5", "PDFQA_MODAL_MAX_CONTAINERS": "2"},
                {"PDFQA_MODAL_SCALEDOWN_WINDOW": "1"}, {"PDFQA_MODAL_CONCURRENCY": "0"},
                {"PDFQA_MODAL_CONCURRENCY": "eight"}, {"PDFQA_MODAL_CUDA_ARCHS": "native"}, {"PDFQA_MODAL_GPU": ""}):
        with pytest.raises(ValueError):
            m.Settings.from_env(bad)


def test_engine_is_a_gpu_web_server_scaled_by_the_parameters(monkeypatch):
    m = load(monkeypatch, PDFQA_MODAL_GPU="H100", PDFQA_MODAL_MIN_CONTAINERS="1", PDFQA_MODAL_MAX_CONTAINERS="6",
             PDFQA_MODAL_SCALEDOWN_WINDOW="1200", PDFQA_MODAL_CONCURRENCY="12", PDFQA_MODAL_API_KEY_SECRET="my-key")
    d = definition(m.engine)
    assert d["gpu"] == "H100" and m.engine._spec_.gpus == "H100"
    a = d["autoscaler_settings"]
    assert (a.min_containers, a.max_containers, a.scaledown_window) == (1, 6, 1200)
    assert d["max_concurrent_inputs"] == 12
    w = d["webhook_config"]
    assert w.web_server_port == m.PORT == 8000 and w.web_server_startup_timeout >= 300
    assert [s.name for s in (synchronizer._translate_in(x) for x in m.engine._spec_.secrets)] == ["my-key"]
    # One llama-server slot per concurrent request.
    ini = m.preset("/c.gguf", "/e.gguf", m.S)
    assert "parallel = 12" in ini and f"ctx-size = {12 * m.S.slot_ctx}" in ini

    cmds, _ = dockerfile(m.engine_image)
    text = "\n".join(cmds)
    assert f"FROM {m.CUDA_IMAGE}" in text and "devel" in m.CUDA_IMAGE  # nvcc for the CUDA build
    build = next(c for c in cmds if "build-engine.sh" in c)
    assert "PDFQA_ENGINE_VARIANT=cuda" in build and "CMAKE_CUDA_ARCHITECTURES='80;86;89;90'" in build
    assert any("fetch-models.sh" in c for c in cmds)  # the models are baked into the image
    assert "ENV PDFQA_MODAL_CONCURRENCY=12" in text  # the container reads the same settings
    assert m.LLAMA_SERVER.endswith(f"{m.V['LLAMA_CPP_PYTHON_VERSION']}-cuda/bin/llama-server")
    assert m.CHAT_GGUF.endswith(m.V["LLM_GGUF_NAME"]) and m.EMBED_GGUF.endswith(m.V["EMBED_GGUF_NAME"])


def test_engine_without_a_key_secret_has_none(monkeypatch):
    m = load(monkeypatch, PDFQA_MODAL_API_KEY_SECRET="")
    assert m.engine._spec_.secrets == []


def test_trainer_is_a_gpu_function_writing_to_the_volume(monkeypatch):
    m = load(monkeypatch, PDFQA_MODAL_TRAIN_GPU="A100-80GB", PDFQA_MODAL_TRAIN_TIMEOUT="7200", PDFQA_MODAL_VOLUME="my-adapters")
    d = definition(m.train)
    assert d["gpu"] == "A100-80GB" and d["timeout"] == 7200
    assert d["webhook_config"] is None  # called with .remote(), not over HTTP
    vols = m.train._spec_.volumes
    assert list(vols) == [m.VOLUME_ROOT]
    assert synchronizer._translate_in(vols[m.VOLUME_ROOT])._name == "my-adapters"
    cmds, mounts = dockerfile(m.trainer_image)
    text = "\n".join(cmds)
    assert "FROM nvidia/cuda:" in text
    assert any("pip install -r" in c for c in cmds)  # scripts/setup/requirements.txt, pinned
    assert f"sha256sum -c" in text and m.V["LLM_GGUF_SHA256"] in text  # the base model, checked
    worker = [e for mt in mounts for e in synchronizer._translate_in(mt)._entries]
    assert any(str(e.remote_path) == f"{m.OPT}/worker" and Path(e.local_dir) == m.WORKER for e in worker)
    assert "ENV PYTHONPATH=/opt/pdfqa/worker" in text


def test_run_job_lays_the_job_out_on_the_volume(monkeypatch, tmp_path):
    m = load(monkeypatch)
    calls = []

    def runner(cmd):
        calls.append(cmd)
        step = cmd[3]
        cfg = json.loads(Path(cmd[-1]).read_text())
        if step == "train":
            return 0, [{"event": "progress", "step": 1}, {"event": "done", "adapter_dir": cfg["output_dir"] + "/adapter", "tokens_per_second": 9.5}]
        if step == "eval":
            return 0, [{"event": "eval", "report": {"improved": True}}]
        return 0, [{"event": "done", "base_dir": cfg["base_dir"]}]

    job = {"id": "job-1", "dataset": {"train": [{"question": "q", "answer": "a", "context": "c"}], "validation": []},
           "config": {"max_steps": 3, "output_dir": "/elsewhere"}}
    res = m.run_job(job, str(tmp_path), "/opt/pdfqa/models/base.gguf", runner)
    assert [c[3] for c in calls] == ["prepare-base", "train", "eval"]
    assert all(c[:3] == [sys.executable, "-m", "pdfqa_trainer"] for c in calls)
    cfg = json.loads((tmp_path / "adapters/job-1/job.json").read_text())
    assert cfg["output_dir"] == str(tmp_path / "adapters/job-1")  # the caller's path is not taken
    assert cfg["max_steps"] == 3 and cfg["device"] == "cuda" and cfg["base_gguf"] == "/opt/pdfqa/models/base.gguf"
    assert cfg["base_dir"] == str(tmp_path / "base/base")  # reused by later jobs
    assert json.loads((tmp_path / "adapters/job-1/dataset/train.jsonl").read_text()) == job["dataset"]["train"][0]
    assert res["adapter_dir"] == str(tmp_path / "adapters/job-1/adapter")
    assert res["done"]["tokens_per_second"] == 9.5 and res["eval"]["report"]["improved"] is True

    def failing(cmd):
        return (2, [{"event": "error", "kind": "dataset", "message": "train.jsonl:1: bad"}]) if cmd[3] == "train" else (0, [])

    with pytest.raises(RuntimeError, match="train exited 2.*train.jsonl:1"):
        m.run_job({"id": "job-2", "dataset": {"train": []}}, str(tmp_path), "/b.gguf", failing)
    for bad in ({"dataset_dir": "../outside"}, {"dataset": {"dev": []}}, {}, {"id": "../x", "dataset": {}}):
        with pytest.raises(ValueError):
            m.run_job(bad, str(tmp_path), "/b.gguf", runner)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_router_serves_chat_and_embeddings_behind_the_key(monkeypatch, tmp_path):
    """The engine's own preset and command, run with the pinned llama-server's CPU build
    and the real models from the cache (scripts/setup/all.sh provides them)."""
    m = load(monkeypatch)
    cache = Path(os.environ.get("PDFQA_CACHE") or Path.home() / ".cache/pdfqa")
    server = cache / f"engine/{m.V['LLAMA_CPP_PYTHON_VERSION']}-cpu/bin/llama-server"
    chat, embed = cache / "models" / m.V["LLM_GGUF_NAME"], cache / "models" / m.V["EMBED_GGUF_NAME"]
    missing = [str(p) for p in (server, chat, embed) if not p.exists()]
    assert not missing, f"missing {missing}: run scripts/setup/all.sh"
    ini = tmp_path / "models.ini"
    # CPU only here: no GPU layers, and no weight repacking (see engine/supervisor.go).
    ini.write_text(m.preset(str(chat), str(embed), m.Settings(concurrency=2, slot_ctx=1024), gpu_layers=0,
                            extra={"no-repack": "true"}))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "router.log", "w")
    p = subprocess.Popen(m.engine_command(str(server), str(ini), host="127.0.0.1", port=port),
                         stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, LLAMA_API_KEY="test-key"))

    def post(path, body, key="test-key"):
        req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=180) as r:
            return json.load(r)

    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/health", timeout=2).close()
                break
            except (urllib.error.URLError, ConnectionError):
                assert p.poll() is None, f"llama-server exited {p.returncode}: {(tmp_path / 'router.log').read_text()[-2000:]}"
                assert time.time() < deadline, "router did not listen within 120s"
                time.sleep(0.3)
        e = post("/v1/embeddings", {"model": m.EMBED_MODEL, "input": ["revenue grew", "net loss"]})
        assert len(e["data"]) == 2 and len(e["data"][0]["embedding"]) == 384  # all-MiniLM-L6-v2
        c = post("/v1/chat/completions", {"model": m.CHAT_MODEL, "max_tokens": 8,
                                          "messages": [{"role": "user", "content": "Say hello."}]})
        assert c["choices"][0]["message"]["content"].strip()
        with pytest.raises(urllib.error.HTTPError) as err:
            post("/v1/embeddings", {"model": m.EMBED_MODEL, "input": ["x"]}, key="wrong")
        assert err.value.code == 401
    finally:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()
