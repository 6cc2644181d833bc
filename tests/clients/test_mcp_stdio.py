"""The reference Python MCP client against `pdfqa mcp` over stdio."""
import asyncio

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def _get(obj, *names):
    """A field under its name in this mcp release (snake or camel case)."""
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    raise AttributeError(names)


async def _run(mesh):
    params = StdioServerParameters(command=mesh["pdfqa"], args=["mcp", "--data", mesh["data"]])
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert {"search", "ask", "list_collections", "ingest"} <= set(tools)
            assert "question" in _get(tools["ask"], "input_schema", "inputSchema")["properties"]
            cols = await s.call_tool("list_collections", {})
            assert mesh["collection"] in [c["name"] for c in _get(cols, "structured_content", "structuredContent")["collections"]]
            res = await s.call_tool("ask", {"collection": mesh["collection"], "question": mesh["question"], "single_shot": True})
            assert not _get(res, "is_error", "isError"), res.content
            out = _get(res, "structured_content", "structuredContent")
            assert out["answer"] and out["citations"], out
            assert out["citations"][0]["document"] and out["citations"][0]["page"] >= 1
            bad = await s.call_tool("ask", {"collection": "no-such-collection", "question": "x"})
            assert _get(bad, "is_error", "isError")


def test_mcp_ask_over_stdio(mesh):
    asyncio.run(_run(mesh))
