"""Client-compatibility tests against a running mesh (scripts/test-clients.sh
starts one, ingests a PDF and sets these variables). Missing settings fail:
these tests never skip."""
import os

import pytest


def _env(name):
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"{name} is not set: run these tests through scripts/test-clients.sh")
    return v


@pytest.fixture(scope="session")
def mesh():
    return {
        "base_url": _env("PDFQA_OPENAI_BASE_URL"),
        "api_key": _env("PDFQA_API_KEY"),
        "collection": _env("PDFQA_TEST_COLLECTION"),
        "question": _env("PDFQA_TEST_QUESTION"),
        "pdfqa": _env("PDFQA_BIN"),
        "data": _env("PDFQA_DATA"),
        "mcp_url": _env("PDFQA_MCP_URL"),
    }
