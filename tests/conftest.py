"""Shared fixtures of the tests: a store with the demo's files, one for the session."""

from __future__ import annotations

from typing import Any

import pytest

# The offline environment, the demo's sample files (``sample_faq``, ``sample_diagram``) and the release of bare
# stores after each test are set up in the top-level conftest.py, for the docstring examples too.


@pytest.fixture(scope="session")
def demo_rag(doctest_rag: Any) -> Any:
    """A store with the demo's FAQ and diagram ingested, offline: the one the docstring examples query, built once
    for the session (tests only read it; one that changes a setting restores it)."""
    return doctest_rag
