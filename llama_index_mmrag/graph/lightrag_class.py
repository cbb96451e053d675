"""The LightRAG class the package instantiates: LightRAG itself, resolving this package's storages directly.

LightRAG finds a storage registered outside its own package (``lightrag.kg.STORAGES``) through
``lazy_external_import``, which calls ``inspect.getmodule`` on its caller's frame; with the thousands of modules
a query process has loaded, the first such call maps every module's file (about 0.2 CPU-seconds). This
package's storages are registered under absolute module names, so they are imported by that name instead;
LightRAG's own storages (and Neo4j) resolve as LightRAG resolves them.

Example:
    >>> cls = lightrag_class()
    >>> from lightrag import LightRAG
    >>> issubclass(cls, LightRAG)
    True
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

__all__ = ["PACKAGE_PREFIX", "lightrag_class"]

PACKAGE_PREFIX = "llama_index_mmrag."
"""Registered storage modules under this prefix are imported by name, without ``inspect``."""


@lru_cache(maxsize=1)
def lightrag_class() -> type:
    """``LightRAG``, with this package's registered storages resolved by module name (built once).

    Returns:
        A subclass of ``lightrag.LightRAG`` that differs only in how it finds those storage classes.
    """
    from lightrag import LightRAG
    from lightrag.kg import STORAGES

    class PackageLightRAG(LightRAG):  # type: ignore[misc]  (LightRAG is marked final for type checkers only)
        """LightRAG whose storages registered by this package are imported by their module name."""

        def _get_storage_class(self, storage_name: str) -> Any:
            module_name = STORAGES.get(storage_name)
            if isinstance(module_name, str) and module_name.startswith(PACKAGE_PREFIX):
                return getattr(importlib.import_module(module_name), storage_name)
            return super()._get_storage_class(storage_name)

    return PackageLightRAG
