"""DashScope (Alibaba Cloud Model Studio) models as LlamaIndex LLMs and embeddings.

Four adapters over the official ``dashscope`` SDK's native ``/api/v1`` API, each with native
async (the SDK's aiohttp transport, not a thread):

* :class:`DashScopeLLM`: qwen text models (``Generation`` / ``AioGeneration``), a ``FunctionCallingLLM``
  that drives LlamaIndex agents with DashScope's native tool calls.
* :class:`DashScopeMultiModalLLM`: qwen-vl vision models (``MultiModalConversation`` /
  ``AioMultiModalConversation``); chat messages carry ``ImageBlock`` content blocks.
* :class:`DashScopeEmbedding`: ``text-embedding-v3`` and friends (``TextEmbedding``), batched
  within the API's per-request limit, query vs document ``text_type``.
* :class:`DashScopeMultiModalEmbedding`: ``multimodal-embedding-v1`` (``MultiModalEmbedding``),
  text and images in one vector space.

Design notes:

* **Base URL, per instance, no global state.** Every SDK call receives
  ``base_address=<base_url>``, the request builder's own per-call endpoint argument
  (``dashscope.api_entities.api_request_factory._build_api_request``), and
  ``api_key=<key>``. ``dashscope.base_http_api_url`` and ``dashscope.api_key`` are never
  written, so instances pointing at different endpoints or keys can run side by side in
  threads and tasks. ``base_url=None`` keeps the SDK default (which honours
  ``DASHSCOPE_HTTP_BASE_URL``).
* **Why the VLM is an ``LLM`` and not a ``MultiModalLLM``.** In llama-index-core 0.14 an
  ``LLM``'s ``ChatMessage`` carries ``ImageBlock`` blocks natively, and only an ``LLM`` can be
  ``Settings.llm``, drive a query engine, an agent or ``structured_predict``.
  ``MultiModalLLM`` is the older, separate hierarchy that none of those accept. So
  :class:`DashScopeMultiModalLLM` is an ``LLM`` (through ``CustomLLM``, shared with
  :class:`DashScopeLLM`, with every method implemented natively; ``CustomLLM``'s
  chat-to-prompt flattening, which would drop images, is never used) and keeps
  ``complete(prompt, image_documents=[...])`` for code written against ``MultiModalLLM``.
* **Local images travel inline as base64 data URLs.** Given a local path or ``file://``
  URL, the SDK uploads the file to DashScope's OSS first, with a separate request that
  ignores the per-call base URL. So adapters read local files themselves, send
  ``data:image/...;base64,...`` (which the API accepts), and use SDK subclasses whose upload
  step is off. Otherwise a user text that happens to name an existing file would be uploaded.
* **Errors.** A non-200 answer, or a transport failure, raises :class:`DashScopeError`
  naming the model, the HTTP status and DashScope code, the server's message, the request
  id and what to do. 429 (``Retry-After`` honoured), 5xx, timeouts, dropped connections and truncated
  answers are retried ``max_retries`` times with exponential backoff and jitter, within ``max_retry_wait``
  seconds of waiting; a stream cut mid-way raises; nothing is logged and dropped.

Modules: :mod:`.errors` (:class:`DashScopeError`), :mod:`.calls` (retries, streaming, error mapping),
:mod:`.sdk` (the SDK's entry points without file upload), :mod:`.images` (inline data URLs),
:mod:`.connection` (key, base URL, timeouts), :mod:`.llm` and :mod:`.vlm` (the chat models), :mod:`.tools`
(the tool-call protocol: tool schemas out, tool calls and stream pieces back),
:mod:`.embedding` (text and multimodal embeddings) and :mod:`.factory` (the three models from settings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.models.dashscope.connection import DASHSCOPE_API_KEY_ENV
    from llama_index_mmrag.models.dashscope.embedding import DashScopeEmbedding, DashScopeMultiModalEmbedding
    from llama_index_mmrag.models.dashscope.errors import DashScopeError
    from llama_index_mmrag.models.dashscope.factory import dashscope_models_from_settings
    from llama_index_mmrag.models.dashscope.llm import DashScopeLLM
    from llama_index_mmrag.models.dashscope.vlm import DashScopeMultiModalLLM

# loaded on first use: the error alone imports neither the SDK nor LlamaIndex
_EXPORTS = {
    "DASHSCOPE_API_KEY_ENV": "llama_index_mmrag.models.dashscope.connection",
    "DashScopeEmbedding": "llama_index_mmrag.models.dashscope.embedding",
    "DashScopeError": "llama_index_mmrag.models.dashscope.errors",
    "DashScopeLLM": "llama_index_mmrag.models.dashscope.llm",
    "DashScopeMultiModalEmbedding": "llama_index_mmrag.models.dashscope.embedding",
    "DashScopeMultiModalLLM": "llama_index_mmrag.models.dashscope.vlm",
    "dashscope_models_from_settings": "llama_index_mmrag.models.dashscope.factory",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
