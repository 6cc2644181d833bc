"""Command line: python -m pdfqa_trainer {prepare-base,train,eval} --config job.json

Exit codes: 0 done, 2 bad config or dataset (the error event says which line), 143 stopped
by SIGTERM after a checkpoint, 1 anything else."""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from . import events
from .config import Config, ConfigError
from .data import DatasetError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pdfqa_trainer")
    ap.add_argument("mode", choices=["prepare-base", "train", "eval"])
    ap.add_argument("--config", required=True, help="job config JSON")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        cfg = Config.load(args.config)
        os.makedirs(cfg.output_dir, exist_ok=True)
        if args.mode == "prepare-base":
            from .model import ensure_base

            events.emit("done", base_dir=ensure_base(cfg))
        elif args.mode == "train":
            from .train import train

            train(cfg)
        else:
            from .evaluate import evaluate

            evaluate(cfg)
        return 0
    except DatasetError as e:
        events.emit("error", kind="dataset", message=str(e), path=e.path, line=e.line)
        return 2
    except ConfigError as e:
        events.emit("error", kind="config", message=str(e))
        return 2
    except SystemExit as e:
        return int(e.code or 0)
    except BaseException as e:  # the supervisor needs one error line whatever happened
        traceback.print_exc(file=sys.stderr)
        events.emit("error", kind=type(e).__name__, message=str(e) or type(e).__name__)
        return 1


if __name__ == "__main__":
    sys.exit(main())
