"""The modality registry: the one list of modalities every part of the package reads.

CLI choices, scope validation, the graph's item entity types, query intent, the describer's modalities and
content-list parsing all ask this registry at call time, so a modality registered here (one module defining
a :class:`Modality`, one line below) is picked up everywhere. Nothing here imports the rest of the package.

Example:
    >>> list(MODALITIES)
    ['text', 'image', 'table', 'equation']
    >>> get("table").entity_type
    'TABLE'
    >>> [m.name for m in MODALITIES.modal()]
    ['image', 'table', 'equation']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from llama_index_mmrag.errors import InputError
from llama_index_mmrag.modalities.base import Modality
from llama_index_mmrag.modalities.equation import EQUATION
from llama_index_mmrag.modalities.image import IMAGE
from llama_index_mmrag.modalities.table import TABLE
from llama_index_mmrag.modalities.text import TEXT

__all__ = ["MODALITIES", "Modality", "ModalityRegistry", "UnknownModalityError", "get", "register"]


class UnknownModalityError(InputError, ValueError):
    """A modality name that is not registered.

    Example:
        >>> try:
        ...     get("video")
        ... except UnknownModalityError as exc:
        ...     print(exc)
        unknown modality 'video'...
    """


class ModalityRegistry:
    """The registered modalities, in order; iterating yields their names.

    Args:
        modalities: The modalities, text first.

    Example:
        >>> registry = ModalityRegistry([TEXT])
        >>> "text" in registry, "image" in registry
        (True, False)
    """

    def __init__(self, modalities: Iterable[Modality]) -> None:
        self._by_name: dict[str, Modality] = {}
        for modality in modalities:
            self.register(modality)

    def __iter__(self) -> Iterator[str]:
        return iter(tuple(self._by_name))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        return f"ModalityRegistry({list(self._by_name)})"

    def names(self) -> tuple[str, ...]:
        """The registered names, in order."""
        return tuple(self._by_name)

    def modal(self) -> tuple[Modality, ...]:
        """The modalities whose items are described and get an item entity (all but text)."""
        return tuple(m for m in self._by_name.values() if m.is_modal)

    def modal_names(self) -> tuple[str, ...]:
        """The names of :meth:`modal`."""
        return tuple(m.name for m in self.modal())

    def get(self, name: str) -> Modality:
        """The modality called ``name``.

        Args:
            name: A registered name.

        Raises:
            UnknownModalityError: When ``name`` is not registered (the message lists the choices).
        """
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise UnknownModalityError(f"unknown modality {name!r}; choose from {', '.join(self._by_name)}") from None

    def by_suffix(self, suffix: str) -> Modality | None:
        """The modality that owns a file suffix (``".png"`` -> image), or ``None``.

        Args:
            suffix: A file suffix, any case.
        """
        suffix = suffix.lower()
        return next((m for m in self._by_name.values() if suffix in m.suffixes), None)

    def register(self, modality: Modality) -> Modality:
        """Add a modality (or replace the one of the same name).

        Args:
            modality: The modality.

        Returns:
            The modality.
        """
        self._by_name[modality.name] = modality
        return modality

    def unregister(self, name: str) -> Modality:
        """Remove a modality and return it (text stays: every document has it).

        Args:
            name: A registered name other than ``"text"``.
        """
        if name == TEXT.name:
            raise ValueError("the text modality cannot be removed")
        modality = self.get(name)
        del self._by_name[name]
        return modality


MODALITIES = ModalityRegistry([TEXT, IMAGE, TABLE, EQUATION])
"""The package's modalities. A new modality: a module like ``modalities/image.py`` and one entry here."""


def get(name: str) -> Modality:
    """The registered modality called ``name`` (see :meth:`ModalityRegistry.get`).

    Args:
        name: A registered name.
    """
    return MODALITIES.get(name)


def register(modality: Modality) -> Modality:
    """Register a modality in the package's registry (see :meth:`ModalityRegistry.register`).

    Args:
        modality: The modality.
    """
    return MODALITIES.register(modality)
