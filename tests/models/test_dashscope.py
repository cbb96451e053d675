"""DashScope adapters over real HTTP: the official SDK talks to a loopback fake of the API."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path
from typing import Any

import dashscope
import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock, ToolCallBlock
from llama_index.core.llms import LLM, CustomLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool
from llama_index.core.schema import ImageDocument, ImageNode
from PIL import Image

from llama_index_mmrag.models.dashscope import (
    DashScopeEmbedding,
    DashScopeError,
    DashScopeLLM,
    DashScopeMultiModalEmbedding,
    DashScopeMultiModalLLM,
    dashscope_models_from_settings,
)
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_EMBEDDING_PATH,
    MULTIMODAL_GENERATION_PATH,
    TEXT_EMBEDDING_PATH,
    TEXT_GENERATION_PATH,
    DashScopeFakeServer,
    describe_image,
    expected_image_embedding,
    expected_text_embedding,
)

# ---------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------


@pytest.fixture
def server(dashscope_server: DashScopeFakeServer) -> DashScopeFakeServer:
    """The shared loopback DashScope (tests/conftest.py)."""
    return dashscope_server


@pytest.fixture
def png(tmp_path: Path) -> Path:
    """A real 7x5 PNG file."""
    path = tmp_path / "figure.png"
    Image.new("RGB", (7, 5), (200, 30, 30)).save(path)
    return path


def connect(cls: type, server: DashScopeFakeServer, **kwargs: Any) -> Any:
    """An adapter pointed at the fake, with instant retries."""
    return cls(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0, **kwargs)


def data_url_bytes(url: str) -> bytes:
    """The bytes inside a ``data:image/...;base64,`` URL."""
    head, _, data = url.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head
    return base64.b64decode(data)


def free_port() -> int:
    """A local port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------------------
# DashScopeLLM
# ---------------------------------------------------------------------------------------


def test_complete_sends_native_request_and_returns_answer(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server, temperature=0.3, max_tokens=64)

    response = llm.complete("What is Milvus?")

    assert response.text == "ANSWER: What is Milvus?"
    assert response.additional_kwargs["prompt_tokens"] == 3
    [request] = server.requests
    assert request.path == TEXT_GENERATION_PATH
    assert request.headers["authorization"] == f"Bearer {FAKE_API_KEY}"
    assert request.model == "qwen-max"
    assert request.input["messages"] == [{"role": "user", "content": "What is Milvus?"}]
    assert request.parameters["result_format"] == "message"
    assert request.parameters["temperature"] == 0.3
    assert request.parameters["max_tokens"] == 64


def test_per_call_kwargs_override_defaults(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server, additional_kwargs={"top_p": 0.8})

    llm.complete("x", temperature=0.9, seed=7)

    parameters = server.requests[0].parameters
    assert (parameters["temperature"], parameters["seed"], parameters["top_p"]) == (0.9, 7, 0.8)


def test_chat_maps_roles_and_returns_assistant_message(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server, model="qwen-plus")
    messages = [
        ChatMessage(role=MessageRole.SYSTEM, content="Answer briefly."),
        ChatMessage(role=MessageRole.USER, content="first question"),
        ChatMessage(role=MessageRole.ASSISTANT, content="first answer"),
        ChatMessage(role=MessageRole.USER, content="second question"),
    ]

    response = llm.chat(messages)

    assert response.message.role == MessageRole.ASSISTANT
    assert response.message.content == "ANSWER: second question"
    body_messages = server.requests[0].input["messages"]
    assert [m["role"] for m in body_messages] == ["system", "user", "assistant", "user"]
    assert body_messages[2]["content"] == "first answer"
    assert server.requests[0].model == "qwen-plus"


def test_stream_complete_yields_incremental_deltas_over_sse(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)

    chunks = list(llm.stream_complete("alpha beta gamma"))

    assert len(chunks) == 4
    assert "".join(c.delta or "" for c in chunks) == "ANSWER: alpha beta gamma"
    assert chunks[-1].text == "ANSWER: alpha beta gamma"
    assert chunks[1].text == "ANSWER: alpha "
    request = server.requests[0]
    assert request.headers["x-dashscope-sse"] == "enable"
    assert request.parameters["incremental_output"] is True


def test_stream_chat_accumulates_message(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)

    chunks = list(llm.stream_chat([ChatMessage(role="user", content="one two")]))

    assert [c.delta for c in chunks] == ["ANSWER: ", "one ", "two"]
    assert chunks[-1].message.content == "ANSWER: one two"


@pytest.mark.usefixtures("aio_sessions")
async def test_async_complete_chat_and_streams(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)

    completion = await llm.acomplete("async question")
    chat = await llm.achat([ChatMessage(role="user", content="async chat")])
    stream = await llm.astream_complete("s t")
    deltas = [chunk.delta async for chunk in stream]
    chat_stream = await llm.astream_chat([ChatMessage(role="user", content="c d")])
    last = [chunk async for chunk in chat_stream][-1]

    assert completion.text == "ANSWER: async question"
    assert chat.message.content == "ANSWER: async chat"
    assert deltas == ["ANSWER: ", "s ", "t"]
    assert last.message.content == "ANSWER: c d"
    assert len(server.requests_to(TEXT_GENERATION_PATH)) == 4


@pytest.mark.usefixtures("aio_sessions")
async def test_async_calls_run_concurrently(server: DashScopeFakeServer, png: Path) -> None:
    # The server answers only once all requests are in flight together: a blocking
    # (sync-under-async) implementation would serialize them and get 500s.
    llm = connect(DashScopeLLM, server, max_retries=0)
    vlm = connect(DashScopeMultiModalLLM, server, max_retries=0)
    server.expect_concurrent(6)

    answers = await asyncio.gather(
        *(llm.acomplete(f"q{i}") for i in range(3)),
        llm.achat([ChatMessage(role="user", content="q3")]),
        vlm.acomplete("q4", image_documents=[ImageBlock(path=png)]),
        vlm.achat([ChatMessage(role="user", blocks=[TextBlock(text="q5")])]),
    )

    texts = [getattr(a, "text", None) or a.message.content for a in answers]
    assert [t.split(" | ")[0] for t in texts] == [f"ANSWER: q{i}" for i in range(6)]


def test_text_llm_refuses_images_before_any_request(server: DashScopeFakeServer, png: Path) -> None:
    llm = connect(DashScopeLLM, server)
    message = ChatMessage(role="user", blocks=[ImageBlock(path=png), TextBlock(text="describe")])

    with pytest.raises(ValueError, match="DashScopeMultiModalLLM"):
        llm.chat([message])
    assert server.requests == []


def test_llm_metadata_and_types() -> None:
    llm = DashScopeLLM(api_key="k", max_tokens=100)
    vlm = DashScopeMultiModalLLM(api_key="k")

    assert isinstance(llm, CustomLLM) and isinstance(vlm, LLM)
    assert isinstance(llm, FunctionCallingLLM) and llm.metadata.is_function_calling_model
    assert llm.metadata.model_name == "qwen-max" and llm.metadata.is_chat_model
    assert llm.metadata.num_output == 100
    assert vlm.metadata.model_name == "qwen-vl-max"


# ---------------------------------------------------------------------------------------
# DashScopeLLM: function calling (DashScope's tool-call protocol over the loopback server)
# ---------------------------------------------------------------------------------------

TOOL_QUESTION = "Where does Milvus Lite run?"
TOOL_OUTPUT = "Milvus Lite runs inside your Python process. [faq.txt, p.1, text]"


def search_docs(query: str, limit: int = 3) -> str:
    """Search the Milvus docs."""
    return TOOL_OUTPUT


def lookup_page(page: int) -> str:
    """Read one page of the docs."""
    return f"page {page}"


SEARCH_TOOL = FunctionTool.from_defaults(search_docs)
PAGE_TOOL = FunctionTool.from_defaults(lookup_page)


def tool_result(reply: ChatMessage, output: str) -> ChatMessage:
    """The tool message a LlamaIndex agent sends back: the output and the call's id only."""
    [call] = [b for b in reply.blocks if isinstance(b, ToolCallBlock)]
    return ChatMessage(role=MessageRole.TOOL, content=output, additional_kwargs={"tool_call_id": call.tool_call_id})


def test_chat_with_tools_round_trip(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)
    question = ChatMessage(role=MessageRole.USER, content=TOOL_QUESTION)

    reply = llm.chat_with_tools([SEARCH_TOOL, PAGE_TOOL], chat_history=[question])

    [selection] = llm.get_tool_calls_from_response(reply)
    assert (selection.tool_name, selection.tool_kwargs) == ("search_docs", {"query": TOOL_QUESTION})
    assert selection.tool_id.startswith("call_")
    first = server.requests[0]
    assert first.parameters["result_format"] == "message"
    assert first.parameters["tools"][0] == {
        "type": "function",
        "function": {
            "name": "search_docs",
            "description": SEARCH_TOOL.metadata.description,
            "parameters": SEARCH_TOOL.metadata.get_parameters_dict(),
        },
    }
    assert [t["function"]["name"] for t in first.parameters["tools"]] == ["search_docs", "lookup_page"]
    assert "tool_choice" not in first.parameters and "parallel_tool_calls" not in first.parameters

    history = [question, reply.message, tool_result(reply.message, TOOL_OUTPUT)]
    answer = llm.chat_with_tools([SEARCH_TOOL], chat_history=history)

    assert answer.message.content == f"According to the search_docs tool: {TOOL_OUTPUT}"
    assert llm.get_tool_calls_from_response(answer, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="qwen-max called no tool"):
        llm.get_tool_calls_from_response(answer)
    sent = server.requests[1].input["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"][0]["id"] == selection.tool_id
    assert sent[2] == {"role": "tool", "content": TOOL_OUTPUT, "tool_call_id": selection.tool_id, "name": "search_docs"}


def test_tool_calls_from_another_llm_are_sent_in_dashscope_format(server: DashScopeFakeServer) -> None:
    """A conversation started elsewhere (tool calls only as ``ToolCallBlock``s) continues on qwen."""
    llm = connect(DashScopeLLM, server)
    call = ToolCallBlock(tool_call_id="other-1", tool_name="search_docs", tool_kwargs={"query": "q"})
    history = [
        ChatMessage(role=MessageRole.USER, content=TOOL_QUESTION),
        ChatMessage(role=MessageRole.ASSISTANT, blocks=[call]),
        ChatMessage(role=MessageRole.TOOL, content=TOOL_OUTPUT, additional_kwargs={"tool_call_id": "other-1"}),
    ]

    answer = llm.chat_with_tools([SEARCH_TOOL], chat_history=history)

    assert answer.message.content.endswith(TOOL_OUTPUT)
    sent = server.requests[0].input["messages"]
    function = {"name": "search_docs", "arguments": '{"query": "q"}'}
    assert sent[1]["tool_calls"] == [{"index": 0, "id": "other-1", "type": "function", "function": function}]
    assert sent[2]["name"] == "search_docs"


@pytest.mark.usefixtures("aio_sessions")
async def test_streamed_tool_call_pieces_are_assembled(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)
    expected = {"query": TOOL_QUESTION}

    sync_chunks = list(llm.stream_chat_with_tools([SEARCH_TOOL], user_msg=TOOL_QUESTION))
    stream = await llm.astream_chat_with_tools([SEARCH_TOOL], user_msg=TOOL_QUESTION)
    async_chunks = [chunk async for chunk in stream]

    for chunks in (sync_chunks, async_chunks):
        assert len(chunks) == 4  # three pieces of the arguments, then the end of the answer
        partial = [llm.get_tool_calls_from_response(c, error_on_no_tool_call=False) for c in chunks]
        assert [len(p) for p in partial] == [1, 1, 1, 1]
        assert partial[0][0].tool_name == "search_docs" and partial[0][0].tool_kwargs != expected
        assert partial[-1][0].tool_kwargs == expected
        assert partial[-1][0].tool_id == partial[0][0].tool_id != ""
        [block] = [b for b in chunks[-1].message.blocks if isinstance(b, ToolCallBlock)]
        assert block.tool_kwargs == expected
        sent = [c.message.additional_kwargs["tool_calls"][0]["function"]["arguments"] for c in chunks]
        assert sent[-1] == json.dumps(expected) and sent[0] != sent[-1]  # each chunk keeps the text it had
    for request in server.requests:
        assert request.headers["x-dashscope-sse"] == "enable" and request.parameters["incremental_output"] is True
        assert request.parameters["tools"][0]["function"]["name"] == "search_docs"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(
    ("arguments", "finish_reason", "says"),
    [
        ('{"query": "Where does Milvus', "length", "cut off at max_tokens"),
        ("query=Milvus Lite", "tool_calls", "not a JSON object"),
        ('["Milvus Lite"]', "tool_calls", "not a JSON object"),
        ('{"query": "a"}}', "tool_calls", "not a JSON object"),
    ],
    ids=["truncated", "not-json", "not-an-object", "trailing-brace"],
)
def test_malformed_tool_arguments_raise_a_clear_error(
    server: DashScopeFakeServer, arguments: str, finish_reason: str, says: str, stream: bool
) -> None:
    llm = connect(DashScopeLLM, server)
    server.malform_next_tool_call(arguments, finish_reason=finish_reason)

    with pytest.raises(DashScopeError) as caught:
        if stream:
            list(llm.stream_chat_with_tools([SEARCH_TOOL], user_msg=TOOL_QUESTION))
        else:
            llm.chat_with_tools([SEARCH_TOOL], user_msg=TOOL_QUESTION)

    message = str(caught.value)
    assert caught.value.code == "InvalidToolCall" and not caught.value.retryable
    assert "qwen-max" in message and "'search_docs'" in message and says in message
    assert repr(arguments) in message


def test_tool_choice_and_parallel_calls(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)

    forced = llm.chat_with_tools([SEARCH_TOOL, PAGE_TOOL], user_msg="page 2?", tool_choice="lookup_page")
    single = llm.chat_with_tools([PAGE_TOOL], user_msg="page 2?", tool_required=True, allow_parallel_tool_calls=True)
    with pytest.raises(ValueError, match="'read_page' names no tool offered"):
        llm.chat_with_tools([SEARCH_TOOL, PAGE_TOOL], user_msg="x", tool_choice="read_page")

    assert [s.tool_name for s in llm.get_tool_calls_from_response(forced)] == ["lookup_page"]
    assert [s.tool_name for s in llm.get_tool_calls_from_response(single)] == ["lookup_page"]
    first, second = server.requests
    assert first.parameters["tool_choice"] == {"type": "function", "function": {"name": "lookup_page"}}
    assert second.parameters["tool_choice"] == {"type": "function", "function": {"name": "lookup_page"}}
    assert second.parameters["parallel_tool_calls"] is True


# ---------------------------------------------------------------------------------------
# DashScopeMultiModalLLM
# ---------------------------------------------------------------------------------------


def test_vision_chat_sends_local_png_inline(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    message = ChatMessage(role="user", blocks=[ImageBlock(path=png), TextBlock(text="What is shown?")])

    response = vlm.chat([message])

    image_bytes = png.read_bytes()
    assert response.message.content == f"ANSWER: What is shown? | IMAGES: {describe_image(image_bytes)}"
    [request] = server.requests
    assert request.path == MULTIMODAL_GENERATION_PATH
    assert request.model == "qwen-vl-max"
    content = request.input["messages"][0]["content"]
    assert content[1] == {"text": "What is shown?"}
    assert content[0]["image"].startswith("data:image/png;base64,")
    assert data_url_bytes(content[0]["image"]) == image_bytes


def test_vision_accepts_bytes_file_urls_and_remote_urls(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    blocks = [
        ImageBlock(image=png.read_bytes()),
        ImageBlock(url=png.as_uri()),
        ImageBlock(url="https://example.com/cat.png"),
        TextBlock(text="Compare"),
    ]

    response = vlm.chat([ChatMessage(role="user", blocks=blocks)])

    description = describe_image(png.read_bytes())
    assert response.message.content == (
        f"ANSWER: Compare | IMAGES: {description}; {description}; url https://example.com/cat.png"
    )
    images = [item["image"] for item in server.requests[0].input["messages"][0]["content"] if "image" in item]
    assert data_url_bytes(images[0]) == data_url_bytes(images[1]) == png.read_bytes()
    assert images[2] == "https://example.com/cat.png"
    assert "file://" not in json.dumps(server.requests[0].body)


def test_vision_complete_with_image_documents(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    encoded = base64.b64encode(png.read_bytes()).decode()
    documents = [ImageNode(image_path=str(png)), ImageDocument(image=encoded)]

    response = vlm.complete("Describe both", image_documents=documents)

    description = describe_image(png.read_bytes())
    assert response.text == f"ANSWER: Describe both | IMAGES: {description}; {description}"
    content = server.requests[0].input["messages"][0]["content"]
    assert [list(item) for item in content] == [["image"], ["image"], ["text"]]


def test_vision_never_uploads_text_that_names_a_local_file(server: DashScopeFakeServer, png: Path) -> None:
    # The SDK alone would upload an existing path found in a text item to OSS (a public endpoint).
    vlm = connect(DashScopeMultiModalLLM, server)

    response = vlm.complete(str(png))

    assert response.text == f"ANSWER: {png}"
    assert [r.path for r in server.requests] == [MULTIMODAL_GENERATION_PATH]


@pytest.mark.usefixtures("aio_sessions")
async def test_vision_async_chat_and_stream(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    message = ChatMessage(role="user", blocks=[ImageBlock(path=png), TextBlock(text="async look")])
    description = describe_image(png.read_bytes())

    chat = await vlm.achat([message])
    completion = await vlm.acomplete("again", image_documents=[ImageBlock(path=png)])
    stream = await vlm.astream_chat([message])
    chunks = [chunk async for chunk in stream]

    assert chat.message.content == f"ANSWER: async look | IMAGES: {description}"
    assert completion.text == f"ANSWER: again | IMAGES: {description}"
    assert chunks[-1].message.content == chat.message.content
    assert len(chunks) > 2
    assert server.requests[-1].headers["x-dashscope-sse"] == "enable"


def test_vision_stream_sync(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)

    chunks = list(vlm.stream_chat([ChatMessage(role="user", blocks=[ImageBlock(path=png), TextBlock(text="hi")])]))

    assert "".join(c.delta or "" for c in chunks) == chunks[-1].message.content
    assert chunks[-1].message.content.startswith("ANSWER: hi | IMAGES: png 7x5")


def test_vision_rejects_unreadable_image_with_the_path(server: DashScopeFakeServer, tmp_path: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    missing = tmp_path / "missing.png"

    with pytest.raises(ValueError, match="missing.png"):
        vlm.chat([ChatMessage(role="user", blocks=[ImageBlock(url=missing.as_uri()), TextBlock(text="x")])])
    assert server.requests == []


# ---------------------------------------------------------------------------------------
# DashScopeEmbedding
# ---------------------------------------------------------------------------------------


def test_text_embeddings_split_to_the_api_limit(server: DashScopeFakeServer) -> None:
    embed = connect(DashScopeEmbedding, server, embed_batch_size=100)
    texts = [f"chunk number {i}" for i in range(23)]

    vectors = embed.get_text_embedding_batch(texts)

    assert vectors == [expected_text_embedding(t, 1024) for t in texts]
    requests = server.requests_to(TEXT_EMBEDDING_PATH)
    assert [len(r.input["texts"]) for r in requests] == [10, 10, 3]
    assert {r.parameters["text_type"] for r in requests} == {"document"}
    assert {r.parameters["dimension"] for r in requests} == {1024}
    assert {r.model for r in requests} == {"text-embedding-v3"}


def test_query_embedding_uses_query_text_type_and_dimension(server: DashScopeFakeServer) -> None:
    embed = connect(DashScopeEmbedding, server, dimension=256)

    vector = embed.get_query_embedding("where is the diagram?")

    assert vector == expected_text_embedding("where is the diagram?", 256)
    assert server.requests[0].parameters == {"text_type": "query", "dimension": 256}


def test_embeddings_are_matched_by_text_index(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    with DashScopeFakeServer(reverse_embedding_order=True) as fake:
        embed = connect(DashScopeEmbedding, fake)
        texts = ["a", "b", "c"]

        assert embed.get_text_embedding_batch(texts) == [expected_text_embedding(t, 1024) for t in texts]


def test_v2_model_uses_its_own_limit_and_no_dimension(server: DashScopeFakeServer) -> None:
    embed = connect(DashScopeEmbedding, server, model_name="text-embedding-v2", dimension=1536, embed_batch_size=64)

    vectors = embed.get_text_embedding_batch([f"t{i}" for i in range(30)])

    assert len(vectors) == 30 and len(vectors[0]) == 1536
    requests = server.requests_to(TEXT_EMBEDDING_PATH)
    assert [len(r.input["texts"]) for r in requests] == [25, 5]
    assert "dimension" not in requests[0].parameters


@pytest.mark.usefixtures("aio_sessions")
async def test_async_text_embeddings(server: DashScopeFakeServer) -> None:
    embed = connect(DashScopeEmbedding, server, embed_batch_size=25, max_retries=0)
    texts = [f"async chunk {i}" for i in range(25)]
    server.expect_concurrent(3)  # the query and single-text calls below run alongside the batch

    vectors, query, single = await asyncio.gather(
        embed.aget_text_embedding_batch(texts),
        embed.aget_query_embedding("async query"),
        embed.aget_text_embedding("one text"),
    )

    assert vectors == [expected_text_embedding(t, 1024) for t in texts]
    assert query == expected_text_embedding("async query", 1024)
    assert single == expected_text_embedding("one text", 1024)
    requests = server.requests_to(TEXT_EMBEDDING_PATH)
    assert sorted(len(r.input["texts"]) for r in requests) == [1, 1, 5, 10, 10]
    assert [r.parameters["text_type"] for r in requests if r.input["texts"] == ["async query"]] == ["query"]


def test_embedding_validates_dimension_and_empty_texts(server: DashScopeFakeServer) -> None:
    with pytest.raises(ValueError, match=r"1000-d.*1024"):
        DashScopeEmbedding(api_key="k", dimension=1000)
    embed = connect(DashScopeEmbedding, server)

    with pytest.raises(ValueError, match="empty text"):
        embed.get_text_embedding_batch(["fine", "  "])
    assert server.requests == []


# ---------------------------------------------------------------------------------------
# DashScopeMultiModalEmbedding
# ---------------------------------------------------------------------------------------


def test_multimodal_embedding_text_and_images(server: DashScopeFakeServer, png: Path) -> None:
    embed = connect(DashScopeMultiModalEmbedding, server)
    image_bytes = png.read_bytes()

    text_vector = embed.get_text_embedding("a red square")
    query_vector = embed.get_query_embedding("red")
    path_vector = embed.get_image_embedding(str(png))
    buffer_vector = embed.get_image_embedding(BytesIO(image_bytes))
    url_vector = embed.get_image_embedding(png.as_uri())

    assert text_vector == expected_text_embedding("a red square", 1024)
    assert query_vector == expected_text_embedding("red", 1024)
    assert path_vector == buffer_vector == url_vector == expected_image_embedding(image_bytes)
    requests = server.requests_to(MULTIMODAL_EMBEDDING_PATH)
    assert len(requests) == 5
    assert all(len(r.input["contents"]) == 1 for r in requests)
    assert data_url_bytes(requests[2].input["contents"][0]["image"]) == image_bytes
    assert {r.model for r in requests} == {"multimodal-embedding-v1"}


@pytest.mark.usefixtures("aio_sessions")
async def test_multimodal_embedding_async_batches(server: DashScopeFakeServer, png: Path) -> None:
    embed = connect(DashScopeMultiModalEmbedding, server, max_concurrency=3, max_retries=0)
    server.expect_concurrent(3)

    images = await embed.aget_image_embedding_batch([str(png)] * 3)
    texts = await embed.aget_text_embedding_batch(["x", "y", "z"])
    query = await embed.aget_query_embedding("q")

    assert images == [expected_image_embedding(png.read_bytes())] * 3
    assert texts == [expected_text_embedding(t, 1024) for t in ["x", "y", "z"]]
    assert query == expected_text_embedding("q", 1024)
    assert len(server.requests_to(MULTIMODAL_EMBEDDING_PATH)) == 7


def test_multimodal_embedding_dimension_is_fixed() -> None:
    with pytest.raises(ValueError, match="dimension=1024"):
        DashScopeMultiModalEmbedding(api_key="k", dimension=512)


# ---------------------------------------------------------------------------------------
# Errors, retries, configuration
# ---------------------------------------------------------------------------------------


def test_401_names_model_and_says_to_check_the_key(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)
    server.fail_next(1, status=401)

    with pytest.raises(DashScopeError) as caught:
        llm.complete("hello")

    error = caught.value
    message = str(error)
    assert "qwen-max" in message and "401" in message and "InvalidApiKey" in message
    assert "Invalid API-key provided." in message
    assert "check DASHSCOPE_API_KEY" in message.replace("Check", "check")
    assert (error.status_code, error.code, error.retryable) == (401, "InvalidApiKey", False)
    assert error.request_id and error.request_id in message
    assert len(server.requests) == 1  # 401 is not retried


def test_wrong_key_on_embeddings_names_the_embedding_model(server: DashScopeFakeServer) -> None:
    embed = DashScopeEmbedding(api_key="sk-wrong", base_url=server.base_url)

    with pytest.raises(DashScopeError, match=r"text-embedding-v3.*HTTP 401 InvalidApiKey.*DASHSCOPE_API_KEY"):
        embed.get_query_embedding("q")
    assert server.requests[0].headers["authorization"] == "Bearer sk-wrong"


def test_429_gives_up_after_max_retries(server: DashScopeFakeServer) -> None:
    embed = connect(DashScopeMultiModalEmbedding, server, max_retries=1)
    server.fail_next(5, status=429)

    with pytest.raises(DashScopeError, match=r"multimodal-embedding-v1.*HTTP 429 Throttling.*retry later") as caught:
        embed.get_text_embedding("x")
    assert caught.value.retryable
    assert len(server.requests) == 2


def test_stream_error_surfaces_at_call_time(server: DashScopeFakeServer) -> None:
    llm = connect(DashScopeLLM, server)
    server.fail_next(1, status=401)

    with pytest.raises(DashScopeError, match="streaming chat.*401"):
        llm.stream_complete("x")


@pytest.mark.usefixtures("aio_sessions")
async def test_async_errors_and_stream_retry(server: DashScopeFakeServer, png: Path) -> None:
    vlm = connect(DashScopeMultiModalLLM, server)
    server.fail_next(1, status=401)
    with pytest.raises(DashScopeError, match=r"qwen-vl-max.*401.*DASHSCOPE_API_KEY"):
        await vlm.achat([ChatMessage(role="user", blocks=[ImageBlock(path=png), TextBlock(text="x")])])

    llm = connect(DashScopeLLM, server)
    server.fail_next(1, status=429)
    stream = await llm.astream_complete("after throttle")
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].text == "ANSWER: after throttle"

    embed = connect(DashScopeEmbedding, server)
    server.fail_next(1, status=401)
    with pytest.raises(DashScopeError, match="text-embedding-v3"):
        await embed.aget_query_embedding("q")


def test_unreachable_endpoint_names_the_url() -> None:
    base_url = f"http://127.0.0.1:{free_port()}/api/v1"
    llm = DashScopeLLM(api_key="k", base_url=base_url, max_retries=0)

    with pytest.raises(DashScopeError, match="could not reach") as caught:
        llm.complete("x")
    assert base_url in str(caught.value)
    assert caught.value.transport_failure and caught.value.status_code is None


def test_api_key_from_environment_or_a_clear_error(
    server: DashScopeFakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(ValueError, match="DASHSCOPE_API_KEY"):
        DashScopeLLM()

    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
    llm = DashScopeLLM(base_url=server.base_url)
    assert llm.complete("env").text == "ANSWER: env"


def test_bad_base_url_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an http"):
        DashScopeLLM(api_key="k", base_url="127.0.0.1:8080")


def test_api_key_never_serialized() -> None:
    models = [
        DashScopeLLM(api_key="sk-secret-1"),
        DashScopeMultiModalLLM(api_key="sk-secret-1"),
        DashScopeEmbedding(api_key="sk-secret-1"),
        DashScopeMultiModalEmbedding(api_key="sk-secret-1"),
    ]
    for model in models:
        assert "sk-secret-1" not in repr(model)
        assert "sk-secret-1" not in model.model_dump_json()
        assert "sk-secret-1" not in json.dumps(model.to_dict(), default=str)


@pytest.mark.usefixtures("aio_sessions")
async def test_base_url_is_per_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    default_url = dashscope.base_http_api_url
    with DashScopeFakeServer() as first, DashScopeFakeServer(api_key="sk-other") as second:
        llm_a = DashScopeLLM(api_key=FAKE_API_KEY, base_url=first.base_url)
        llm_b = DashScopeLLM(api_key="sk-other", base_url=second.base_url)

        answers = await asyncio.gather(*(llm.acomplete(name) for llm, name in [(llm_a, "a"), (llm_b, "b")] * 3))
        with ThreadPoolExecutor(max_workers=4) as pool:
            threaded = list(pool.map(lambda pair: pair[0].complete(pair[1]).text, [(llm_a, "ta"), (llm_b, "tb")] * 2))

        assert [a.text for a in answers] == ["ANSWER: a", "ANSWER: b"] * 3
        assert threaded == ["ANSWER: ta", "ANSWER: tb"] * 2
        assert {r.input["messages"][0]["content"] for r in first.requests} == {"a", "ta"}
        assert {r.input["messages"][0]["content"] for r in second.requests} == {"b", "tb"}
    assert dashscope.base_http_api_url == default_url


def test_factory_builds_three_connected_models(server: DashScopeFakeServer, png: Path) -> None:
    llm, vlm, embed = dashscope_models_from_settings(
        FAKE_API_KEY, server.base_url, "qwen-plus", "qwen-vl-plus", "text-embedding-v3", 512
    )

    assert llm.complete("f").text == "ANSWER: f"
    assert vlm.complete("g", image_documents=[ImageBlock(path=png)]).text.startswith("ANSWER: g | IMAGES: png 7x5")
    assert len(embed.get_query_embedding("h")) == 512
    assert [r.model for r in server.requests] == ["qwen-plus", "qwen-vl-plus", "text-embedding-v3"]
    with pytest.raises(ValueError, match="DASHSCOPE_API_KEY"):
        dashscope_models_from_settings("", None, "qwen-max", "qwen-vl-max", "text-embedding-v3", 1024)
