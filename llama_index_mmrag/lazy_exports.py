"""Public names of a package that load on first use (PEP 562), so importing the package stays cheap.

Example:
    >>> __getattr__, __dir__ = lazy_exports(__name__, {"ParseError": "llama_index_mmrag.parsing.errors"}, globals())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names live in submodules, imported on first use.

    A name is imported from its module the first time it is read, then kept in the package's namespace, so
    later reads are plain attribute lookups.

    Args:
        package: The package's ``__name__`` (for the error of an unknown name).
        exports: Each public name and the module that defines it.
        namespace: The package's ``globals()``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
