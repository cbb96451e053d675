"""The image embedding is configured apart from the text embedding: a multimodal model given as the text embedding
fails at once saying what to set, and ``MMRAG_IMAGE_EMBED_MODEL`` routes DashScope's multimodal models to their
own endpoint through the official SDK, end to end into the store's image field (loopback DashScope server)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from llama_index_mmrag import MilvusModalRetriever, MultimodalRAG
from llama_index_mmrag.models.dashscope import DashScopeMultiModalEmbedding
from llama_index_mmrag.models.dashscope.multimodal_models import MULTIMODAL_EMBEDDING_DIMENSIONS
from llama_index_mmrag.models.factory import build_models
from llama_index_mmrag.models.image_embedding import ImageEmbeddingSettingError, build_image_embedding
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.image_field import IMAGE_FIELD_NAME
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_EMBEDDING_PATH,
    expected_image_embedding,
    expected_text_embedding,
)


@pytest.mark.parametrize("name", [*MULTIMODAL_EMBEDDING_DIMENSIONS, " Tongyi-Embedding-Vision-Plus "])
def test_a_multimodal_model_given_as_the_text_embedding_fails_at_once_saying_what_to_set(
    tmp_path: Path, name: str
) -> None:
    settings = MMRAGSettings(storage_dir=tmp_path / "store", embed_model=name, dashscope_api_key=FAKE_API_KEY)
    with pytest.raises(ImageEmbeddingSettingError, match=r"MMRAG_EMBED_MODEL=.* is a multimodal embedding model") as caught:
        build_models(settings)
    assert f"MMRAG_IMAGE_EMBED_MODEL={name}" in str(caught.value) and "text-embedding-v3" in str(caught.value)
    with pytest.raises(ImageEmbeddingSettingError):  # the facade fails before it makes a store
        MultimodalRAG(settings=settings)
    assert not (tmp_path / "store").exists()


def test_image_embed_settings_name_a_dashscope_model_a_known_one_with_a_key_and_a_dimension_it_has(tmp_path: Path) -> None:
    base = {"storage_dir": tmp_path, "dashscope_api_key": FAKE_API_KEY}
    model, dim = build_image_embedding(MMRAGSettings(**base, image_embed_model="tongyi-embedding-vision-plus"))
    assert isinstance(model, DashScopeMultiModalEmbedding) and (model.model_name, model.dimension, dim) == (
        "tongyi-embedding-vision-plus", 1152, 1152
    )
    model, dim = build_image_embedding(MMRAGSettings(**base, image_embed_model="multimodal-embedding-v1"))
    assert dim == 1024 == model.dimension
    with pytest.raises(ImageEmbeddingSettingError, match="'clip-vit' is not a known multimodal.*tongyi-embedding-vision-plus"):
        build_image_embedding(MMRAGSettings(**base, image_embed_model="clip-vit"))
    with pytest.raises(ImageEmbeddingSettingError, match="needs DASHSCOPE_API_KEY"):
        build_image_embedding(MMRAGSettings(storage_dir=tmp_path, image_embed_model="tongyi-embedding-vision-plus"))
    with pytest.raises(ImageEmbeddingSettingError, match=r"MMRAG_IMAGE_EMBED_DIM=100: .*one of \[1152, 1024"):
        build_image_embedding(MMRAGSettings(**base, image_embed_model="tongyi-embedding-vision-plus", image_embed_dim=100))


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_tongyi_embedding_vision_plus_fills_and_searches_the_image_field_through_the_sdk(
    tmp_path: Path, dashscope_server: Any
) -> None:
    picture = tmp_path / "plot.png"
    Image.new("RGB", (32, 24), (240, 220, 40)).save(picture)
    settings = MMRAGSettings(
        storage_dir=tmp_path / "store", image_embed_model="tongyi-embedding-vision-plus",
        dashscope_api_key=FAKE_API_KEY, dashscope_base_url=dashscope_server.base_url,
    )
    image_model, dim = build_image_embedding(settings)
    # the key in the settings would bring DashScope's LLMs too: the store gets the image model alone
    with MultimodalRAG(storage_dir=tmp_path / "store", image_embed_model=image_model, image_embed_dim=dim) as rag:
        assert rag.ingest([picture], show_progress=False).ok
        [sent] = dashscope_server.requests_to(MULTIMODAL_EMBEDDING_PATH)
        assert sent.model == "tongyi-embedding-vision-plus" and sent.parameters["dimension"] == 1152
        assert sent.input["contents"][0]["image"].startswith("data:image/png;base64,")  # inline, never uploaded
        row = rag.vector_store.client.query(
            rag.vector_store.collection_name, filter='doc == "plot.png"', output_fields=[IMAGE_FIELD_NAME]
        )[0]
        stored = expected_image_embedding(picture.read_bytes(), 1152)
        assert row[IMAGE_FIELD_NAME] == pytest.approx(stored, abs=1e-6)

        question = "a yellow plot"
        [hit] = MilvusModalRetriever(rag.vector_store, rag.embed_model, mode="image").retrieve(question)
        assert hit.node.metadata["doc"] == "plot.png"
        assert hit.score == pytest.approx(_cosine(expected_text_embedding(question, 1152), stored), abs=1e-4)
        asked = dashscope_server.requests_to(MULTIMODAL_EMBEDDING_PATH)[-1]
        assert asked.input["contents"] == [{"text": question}]  # the question, by the model's text side
