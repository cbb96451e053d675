"""Public names of a package, and third-party modules, that load on first use, so importing stays cheap.

Example:
    >>> __getattr__, __dir__ = lazy_exports(__name__, {"ParseError": "llama_index_mmrag.parsing.errors"}, globals())
    >>> defer_import("tabnanny")       # as ``import llama_index_mmrag`` defers pypinyin, which LightRAG imports
    >>> import tabnanny
    >>> imported("tabnanny")
    False
    >>> tabnanny.verbose                # the first use imports it
    0
    >>> imported("tabnanny")
    True
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Mapping
from importlib import import_module
from importlib.util import find_spec
from typing import Any

_DEFER_LOCK = threading.Lock()


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


class _DeferredModule(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet; the first attribute read imports it."""

    def __getattr__(self, name: str) -> Any:
        with _DEFER_LOCK:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
                try:
                    import_module(self.__name__)
                except BaseException:
                    sys.modules[self.__name__] = self  # as it was: the next use tries again and raises again
                    raise
        return getattr(import_module(self.__name__), name)


def defer_import(name: str) -> None:
    """Make ``import name`` cost nothing until the module is used: a stand-in takes its place in ``sys.modules``,
    and the first attribute read on it (``module.func``, ``from name import func``, a submodule import) imports
    the real module, which every later ``import name`` then gets.

    For a module a dependency imports at its own import time and uses only on paths this package never takes
    (LightRAG imports pypinyin, about 55 MB of resident memory, to sort Chinese file names in its server's
    listings). Nothing happens if the module is already imported or not installed.

    Args:
        name: A top-level module name.
    """
    with _DEFER_LOCK:
        if name in sys.modules:
            return
        spec = find_spec(name)  # finds the file, imports nothing
        if spec is None:
            return
        module = _DeferredModule(name)
        module.__spec__ = spec  # what importlib.util.find_spec(name) answers for a module in sys.modules
        sys.modules[name] = module


def imported(name: str) -> bool:
    """Whether the module ``name`` is really imported (a stand-in of :func:`defer_import` is not).

    Args:
        name: A module name.
    """
    return name in sys.modules and not isinstance(sys.modules[name], _DeferredModule)
