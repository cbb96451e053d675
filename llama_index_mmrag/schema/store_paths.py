"""Paths into a store, written relative to its folder and read back absolute, so a store can be moved or copied.

A node can name files its store wrote: an image's picture (``image_path``, and ``ImageNode.image_path``) and
text too big for a Milvus row (``full_text_path``, ``<key>_path``, see :mod:`llama_index_mmrag.limits`). The
store keeps such a path relative to its folder (:func:`stored_node`, on every write) and every node read back
gets it absolute under the folder where the store is now (:func:`resolved_node`, on every read): the two ends of
the vector store (:class:`~llama_index_mmrag.stores.node_store.MMRAGMilvusVectorStore`), so every consumer
(retrievers, postprocessors, a multimodal LLM, the command line, citations) sees a real file.

Paths outside the store are kept as they are. Rows written before paths were kept relative hold absolute
paths: one that exists is used as is, and one under a folder the store was moved from is re-based onto the
store's folder when the file is there (:func:`resolved_path`).

Example:
    >>> from llama_index.core.schema import ImageNode
    >>> node = ImageNode(text="a chart", image_path="/data/store/parsed/ab/fig.png",
    ...                  metadata={"image_path": "/data/store/parsed/ab/fig.png", "doc": "r.pdf"})
    >>> stored = stored_node(node, Path("/data/store"))
    >>> stored.image_path, stored.metadata["image_path"], stored.metadata[RELATIVE_KEYS]
    ('parsed/ab/fig.png', 'parsed/ab/fig.png', ['ImageNode.image_path', 'image_path'])
    >>> resolved_node(stored, Path("/backup/store")).metadata["image_path"]
    '/backup/store/parsed/ab/fig.png'
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # LlamaIndex is imported where nodes are built
    from llama_index.core.schema import BaseNode

__all__ = ["RELATIVE_KEYS", "is_path_key", "resolved_node", "resolved_path", "stored_node", "stored_path"]

RELATIVE_KEYS = "store_relative_paths"
"""Metadata key, in the store only, listing what was written relative to the store's folder: metadata keys, and
:data:`IMAGE_FIELD` for ``ImageNode.image_path``; it is removed again when a node is read back."""
IMAGE_FIELD = "ImageNode.image_path"
"""Stands for an ``ImageNode``'s own ``image_path`` field in :data:`RELATIVE_KEYS`."""


def is_path_key(key: str) -> bool:
    """Whether a metadata key may name a file the store wrote (``image_path``, ``full_text_path``, ``<key>_path``).

    Args:
        key: A metadata key.
    """
    return key.endswith("_path")


def stored_path(path: str, root: Path) -> str | None:
    """``path`` relative to the store's folder (``/``-separated), or ``None`` when it lies outside it.

    Args:
        path: An absolute path.
        root: The store's folder.

    Example:
        >>> stored_path("/data/store/parsed/ab/fig.png", Path("/data/store")), stored_path("/home/me/a.png", Path("/data/store"))
        ('parsed/ab/fig.png', None)
    """
    if not os.path.isabs(path):
        return None
    real, base = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, base]) != base or real == base:
        return None
    return PurePosixPath(Path(os.path.relpath(real, base))).as_posix()


def resolved_path(path: str, root: Path, relative: bool = False) -> str:
    """The absolute path of a file a node names, for the store now at ``root``.

    A path stored relative (``relative``) lies under ``root``. An absolute path that exists is kept. An
    absolute path that does not exist (a store moved or copied before paths were kept relative) is re-based: the
    longest tail of it that names a file under ``root`` wins; with none, it is kept, and whoever opens it says
    the file is missing.

    Args:
        path: The path as stored.
        root: The store's folder, where it is now.
        relative: Whether the store wrote it relative to its folder.

    Example:
        >>> resolved_path("parsed/ab/fig.png", Path("/backup/store"), relative=True)
        '/backup/store/parsed/ab/fig.png'
    """
    base = Path(os.path.abspath(root))
    if relative:
        return str(base.joinpath(*PurePosixPath(path).parts))
    if not os.path.isabs(path) or os.path.exists(path):
        return path
    parts = Path(path).parts[1:]
    for start in range(len(parts)):
        candidate = base.joinpath(*parts[start:])
        if candidate.is_file():
            return str(candidate)
    return path


def stored_node(node: BaseNode, root: Path) -> BaseNode:
    """The node as the store keeps it: paths into ``root`` made relative (a copy; ``node`` is left alone).

    Args:
        node: A node about to be written.
        root: The store's folder.
    """
    from llama_index.core.schema import ImageNode

    relative: dict[str, str] = {}
    for key, value in node.metadata.items():
        if is_path_key(key) and isinstance(value, str):
            inside = stored_path(value, root)
            if inside is not None:
                relative[key] = inside
    update: dict[str, object] = {}
    if isinstance(node, ImageNode) and node.image_path:
        inside = stored_path(node.image_path, root)
        if inside is not None:
            update["image_path"] = inside
    if not relative and not update:
        return node
    marks = sorted([*relative, *([IMAGE_FIELD] if update else [])])
    update["metadata"] = {**node.metadata, **relative, RELATIVE_KEYS: marks}
    return node.model_copy(update=update)


def resolved_node(node: BaseNode, root: Path) -> BaseNode:
    """A node read from the store, its file paths made absolute under ``root`` (in place; returned).

    Args:
        node: A node as the store returned it.
        root: The store's folder, where it is now.
    """
    from llama_index.core.schema import ImageNode

    relative = set(node.metadata.pop(RELATIVE_KEYS, None) or ())
    for key, value in list(node.metadata.items()):
        if is_path_key(key) and isinstance(value, str) and value:
            node.metadata[key] = resolved_path(value, root, relative=key in relative)
    if isinstance(node, ImageNode) and node.image_path:
        node.image_path = resolved_path(node.image_path, root, relative=IMAGE_FIELD in relative)
    return node
