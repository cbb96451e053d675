"""A store's identity at open: recorded for a new store, adopted for an old one, checked against the embedding.

A store made before stores recorded what built them (no ``store.json``) is *adopted* at its first open: what can be
verified is recorded, the dimension of the vectors its Milvus collection holds, and the configured embedding model
is recorded as **unverified** (nothing tells which model of that dimension built the vectors). A dimension that
differs is refused (:class:`~llama_index_mmrag.manifest.StoreIdentityError`); while the model is unverified, each
process warns once per store, naming the store and how to confirm the model (``mmrag confirm-model``).

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> identity = open_identity(MMRAGSettings(storage_dir=rag.settings.storage_dir), "all-MiniLM-L6-v2 (packaged)", 384)
    >>> identity.embed_dim, identity.model_verified  # the demo's store, recorded when it was created
    (384, True)
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.graph.file_counts import initial_workspace
from llama_index_mmrag.manifest import StoreIdentity
from llama_index_mmrag.stores.milvus import bare_collection

if TYPE_CHECKING:
    from llama_index_mmrag.settings import MMRAGSettings

logger = logging.getLogger(__name__)

__all__ = ["collection_dimension", "open_identity", "unverified_model_message"]

_warned: set[str] = set()
_warned_lock = threading.Lock()


def open_identity(
    settings: MMRAGSettings,
    embed_model: str,
    embed_dim: int,
    *,
    warn: bool = True,
    image: tuple[str | None, int | None] | None = None,
) -> StoreIdentity:
    """The store's identity, recorded if it has none (adopting an old store), checked against the embedding.

    Args:
        settings: The store's settings.
        embed_model: The configured embedding model's name
            (:func:`~llama_index_mmrag.models.embeddings.embedding_name`).
        embed_dim: Its dimension.
        warn: Whether to warn (once per store and process) if the store's model is unverified.
        image: The configured image embedding's name and dimension (``(None, None)``: none), recorded for a new
            store and checked against the store's; ``None``: not checked (a caller that writes no vectors).

    Raises:
        StoreIdentityError: If the store was built with another embedding model (a verified one) or dimension, or
            with another image embedding (or none).
    """
    workspace, existed = initial_workspace(settings)
    stored_dim = None
    if existed and StoreIdentity.read(settings.storage_dir) is None:
        stored_dim = collection_dimension(settings)
    identity = StoreIdentity.open(
        settings.storage_dir, embed_model=embed_model, embed_dim=embed_dim, workspace=workspace, adopted=existed,
        stored_dim=stored_dim,
        image_embed_model=image[0] if image else None,
        image_embed_dim=image[1] if image else None,
    )
    if image is not None:
        identity.check_image(settings.storage_dir, *image)
    if warn and not identity.model_verified:
        key = str(settings.storage_dir.resolve())
        with _warned_lock:
            first = key not in _warned
            _warned.add(key)
        if first:
            logger.warning(unverified_model_message(settings, identity, embed_model))
    return identity


def unverified_model_message(settings: MMRAGSettings, identity: StoreIdentity, embed_model: str) -> str:
    """What a user is told about a store whose embedding model is unverified: which store, what to do.

    Args:
        settings: The store's settings.
        identity: Its identity.
        embed_model: The configured embedding model's name.
    """
    return (
        f"the store {settings.storage_dir} was made before stores recorded their embedding model: its "
        f"{identity.embed_dim}-d vectors fit {embed_model!r}, but whether that model built them cannot be checked, "
        f"and another model of the same dimension would silently return wrong results. If {embed_model!r} built "
        f"it, record that with `mmrag confirm-model --store {settings.storage_dir}` (or StoreIdentity.confirm_model); "
        f"if not, open it with the model that built it (MMRAG_EMBED_MODEL, or embed_model=)"
    )


def collection_dimension(settings: MMRAGSettings) -> int | None:
    """The dimension of the dense vectors the store's Milvus collection holds; ``None`` if it has no collection.

    Args:
        settings: The store's settings (Milvus Lite under ``storage_dir``, or a server).
    """
    with bare_collection(settings) as rows:
        return None if rows is None else _dense_dim(rows.client.describe_collection(rows.collection_name))


def _dense_dim(description: dict[str, Any]) -> int | None:
    """The ``dim`` of the collection's dense vector field (LlamaIndex's ``embedding``, else the only one)."""
    from pymilvus import DataType

    dense = [f for f in description.get("fields", []) if f.get("type") == DataType.FLOAT_VECTOR]
    field = next((f for f in dense if f.get("name") == "embedding"), dense[0] if len(dense) == 1 else None)
    if field is None:
        return None
    dim = (field.get("params") or {}).get("dim")
    return int(dim) if dim is not None else None
