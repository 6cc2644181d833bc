"""The reference Python MCP client against the gateway's /mcp (streamable
HTTP), with the mesh's API key."""
import asyncio

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from test_mcp_stdio import _get


def _client(key=None):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=600))


async def _run(mesh):
    async with _client(mesh["api_key"]) as http, streamable_http_client(mesh["mcp_url"], http_client=http) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert {"search", "ask", "list_collections", "ingest"} <= set(tools)
            schema = _get(tools["search"], "input_schema", "inputSchema")
            assert {"collection", "query"} <= set(schema["properties"]), schema

            found = await s.call_tool("search", {"collection": mesh["collection"], "query": mesh["question"], "top_k": 3})
            assert not _get(found, "is_error", "isError"), found.content
            passages = _get(found, "structured_content", "structuredContent")["passages"]
            assert 1 <= len(passages) <= 3, passages
            assert all(p["document"] and p["page"] >= 1 and isinstance(p["boxes"], list) for p in passages)

            res = await s.call_tool("ask", {"collection": mesh["collection"], "question": mesh["question"], "single_shot": True})
            assert not _get(res, "is_error", "isError"), res.content
            out = _get(res, "structured_content", "structuredContent")
            assert out["answer"] and out["run_id"], out
            assert out["citations"], "no structured citations"
            for c in out["citations"]:
                assert c["document"] and c["page"] >= 1 and "score" in c and isinstance(c["boxes"], list), c
            # The text block names the same sources for a person to read.
            text = "".join(getattr(b, "text", "") for b in res.content)
            assert f"{out['citations'][0]['document']} p.{out['citations'][0]['page']}" in text, text


def test_mcp_over_streamable_http(mesh):
    asyncio.run(asyncio.wait_for(_run(mesh), 900))


@pytest.mark.parametrize("key", [None, "pdfqa_not-a-key"])
def test_mcp_without_a_valid_key_is_401(mesh, key):
    async def post():
        async with _client(key) as http:
            return await http.post(mesh["mcp_url"], json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
                headers={"Accept": "application/json, text/event-stream"})
    resp = asyncio.run(post())
    assert resp.status_code == 401, resp.text
    assert resp.headers.get("www-authenticate", "").startswith("Bearer")

    async def initialize():
        async with _client(key) as http, streamable_http_client(mesh["mcp_url"], http_client=http) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
    # The client itself refuses to go on (it does not hang or succeed).
    with pytest.raises(BaseException) as e:
        asyncio.run(asyncio.wait_for(initialize(), 60))
    assert not isinstance(e.value, (asyncio.TimeoutError, KeyboardInterrupt)), e.value
