"""JSON-lines progress events on stdout: the worker's only protocol with its supervisor."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

_enabled = True


def set_enabled(on: bool) -> None:
    """Silences events on non-main processes of a multi-process (accelerate) run."""
    global _enabled
    _enabled = on


def emit(event: str, **fields: Any) -> None:
    """Writes one event line and flushes, so the supervisor sees it immediately."""
    if not _enabled:
        return
    rec: dict[str, Any] = {"event": event, "time": round(time.time(), 3)}
    rec.update(fields)
    sys.stdout.write(json.dumps(rec, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()
