"""The official openai package, and LangChain's ChatOpenAI, against pdfqa's
OpenAI-compatible API (/openai/v1)."""
import openai
import pytest
from langchain_openai import ChatOpenAI


@pytest.fixture()
def client(mesh):
    return openai.OpenAI(base_url=mesh["base_url"], api_key=mesh["api_key"], timeout=600, max_retries=0)


def _check_citations(ext):
    assert ext["run_id"]
    assert ext["citations"], "no structured citations"
    for c in ext["citations"]:
        assert c["document"] and c["page"] >= 1
        assert isinstance(c["boxes"], list) and "score" in c and "text" in c


def test_models_lists_the_collection(client, mesh):
    ids = [m.id for m in client.models.list()]
    assert f"pdfqa/{mesh['collection']}" in ids
    assert client.models.retrieve(f"pdfqa/{mesh['collection']}").id == f"pdfqa/{mesh['collection']}"


def test_chat_completion_is_cited(client, mesh):
    r = client.chat.completions.create(model=f"pdfqa/{mesh['collection']}",
                                       messages=[{"role": "user", "content": mesh["question"]}])
    choice = r.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.content
    assert " p." in choice.message.content, "no inline [doc p.N] citation"
    _check_citations(choice.message.model_extra["pdfqa"])
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0


def test_streaming_chat_completion_is_cited(client, mesh):
    stream = client.chat.completions.create(model=f"pdfqa/{mesh['collection']}", stream=True,
                                            stream_options={"include_usage": True},
                                            messages=[{"role": "user", "content": mesh["question"]}])
    text, ext, finish, usage = "", None, None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        text += d.content or ""
        if d.model_extra and "pdfqa" in d.model_extra:
            ext = d.model_extra["pdfqa"]
        finish = chunk.choices[0].finish_reason or finish
    assert text and finish == "stop"
    assert ext is not None, "the final chunk has no pdfqa extension"
    _check_citations(ext)
    assert usage is not None and usage.completion_tokens > 0


def test_bad_key_is_401(mesh):
    bad = openai.OpenAI(base_url=mesh["base_url"], api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.models.list()
    assert e.value.status_code == 401


def test_unknown_collection_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="pdfqa/no-such-collection",
                                       messages=[{"role": "user", "content": "anything?"}])
    assert e.value.status_code == 404
    assert e.value.code == "model_not_found"


def test_langchain_chat_openai(mesh):
    llm = ChatOpenAI(base_url=mesh["base_url"], api_key=mesh["api_key"], model=f"pdfqa/{mesh['collection']}",
                     timeout=600, max_retries=0)
    msg = llm.invoke(mesh["question"])
    assert msg.content and " p." in msg.content
    chunks = "".join(c.content for c in llm.stream(mesh["question"]))
    assert chunks
