"""Whether a parser can run on this machine without a network, and why: MinerU and Docling, their model files
and format backends, looked up on disk only (no network call, nothing executed, nothing downloaded).

:mod:`llama_index_mmrag.parsing.select` chooses a parser from these answers, and the offline Docling parser
refuses a PDF with :func:`docling_pdf_status`'s reason instead of reaching for a hub.

Example:
    >>> from llama_index_mmrag.parsing.availability import docling_format_status
    >>> docling_format_status(".rtf").ready
    False
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from llama_index_mmrag.parsing.formats import PDF_SUFFIXES

# The module Docling's backend imports for each format, and the docling-slim extra that installs it.
_DOCLING_BACKENDS: dict[str, tuple[str, str]] = {
    ".docx": ("docx", "format-docx"),
    ".pptx": ("pptx", "format-pptx"),
    ".xlsx": ("openpyxl", "format-xlsx"),
    ".html": ("bs4", "format-html"),
    ".htm": ("bs4", "format-html"),
    ".xhtml": ("bs4", "format-html"),
    ".md": ("marko", "format-markdown"),
    ".markdown": ("marko", "format-markdown"),
}

# Model repositories whose files must already be on disk. MinerU 2.x/3.x "pipeline" backend models; Docling's
# default layout model (docling 2.x: layout-heron) and TableFormer, which its standard PDF pipeline loads.
MINERU_PIPELINE_REPO = "opendatalab/PDF-Extract-Kit-1.0"
DOCLING_LAYOUT_REPO = "docling-project/docling-layout-heron"
DOCLING_TABLES_REPO = "docling-project/docling-models"


@dataclass(frozen=True)
class Availability:
    """Whether a parser can run on this machine without a network, and why (not).

    Args:
        ready: True when the parser can run offline.
        reason: What was found, or what is missing and how to fix it.

    Example:
        >>> docling_format_status(".docx")
        Availability(ready=True, reason='Docling reads .docx files without any model')
        >>> mineru_status().ready   # MinerU 4 cannot be driven by RAG-Anything 1.4
        False
    """

    ready: bool
    reason: str


# --- where model files live (no network: only environment variables and folders are read) ------------------


def _has_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(folder.iterdir())
    except OSError:
        return False


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache folder, resolved the way ``huggingface_hub`` resolves it.

    ``HF_HUB_CACHE`` > ``HUGGINGFACE_HUB_CACHE`` > ``$HF_HOME/hub`` > ``$XDG_CACHE_HOME/huggingface/hub`` >
    ``~/.cache/huggingface/hub``. Read from the environment at each call, so tests can point it elsewhere.
    """
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return cache / "huggingface" / "hub"


def hf_snapshot(repo_id: str, subfolder: str = "") -> Path | None:
    """A downloaded snapshot of a hub repository in the local cache (holding ``subfolder``), or ``None``.

    Args:
        repo_id: ``owner/name`` on the hub.
        subfolder: A folder that must exist, non-empty, inside the snapshot.
    """
    snapshots = hf_hub_cache() / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return None
    for snapshot in sorted(snapshots.iterdir()):
        if _has_files(snapshot / subfolder if subfolder else snapshot):
            return snapshot
    return None


def _modelscope_snapshot(repo_id: str) -> Path | None:
    root = Path(os.environ.get("MODELSCOPE_CACHE") or Path.home() / ".cache" / "modelscope" / "hub").expanduser()
    owner, name = repo_id.split("/", 1)
    for base in (root, root / "models"):
        for folder in (base / owner / name, base / owner / name.replace(".", "___")):
            if _has_files(folder):
                return folder
    return None


def _mineru_config_models_dir() -> Path | None:
    """The ``models-dir.pipeline`` folder of MinerU 2.x/3.x's ``~/mineru.json`` (``MINERU_TOOLS_CONFIG_JSON``)."""
    name = os.environ.get("MINERU_TOOLS_CONFIG_JSON", "mineru.json")
    config = Path(name).expanduser()
    if not config.is_absolute():
        config = Path.home() / name
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    models = data.get("models-dir") if isinstance(data, dict) else None
    folder = models.get("pipeline") if isinstance(models, dict) else None
    if isinstance(folder, str) and _has_files(Path(folder).expanduser()):
        return Path(folder).expanduser()
    return None


def _mineru_models() -> Path | None:
    """Where MinerU 2.x/3.x would load its pipeline models from without downloading, if anywhere.

    With ``MINERU_MODEL_SOURCE=local`` MinerU reads only the folder configured in ``mineru.json``; otherwise it
    resolves the models through the Hugging Face or ModelScope cache, which works offline once they are there.
    """
    if os.environ.get("MINERU_MODEL_SOURCE", "").strip().lower() == "local":
        return _mineru_config_models_dir()
    return hf_snapshot(MINERU_PIPELINE_REPO, "models") or _modelscope_snapshot(MINERU_PIPELINE_REPO)


def _installed(module: str) -> bool:
    """Whether a module can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _major(version: str) -> int:
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def mineru_status() -> Availability:
    """Whether RAG-Anything's MinerU parser can run here offline.

    RAG-Anything (1.4.x) drives MinerU through its command line as ``mineru -p FILE -o DIR -m METHOD``; it only
    checks that ``mineru --version`` runs. MinerU 4 replaced that command line with subcommands
    (``mineru parse ...``) and no longer accepts ``-p``, so with MinerU 4 every parse fails even though the
    check passes. MinerU is therefore usable only when (1) the ``mineru`` command exists, (2) the installed
    MinerU is a 2.x or 3.x release (the ``-p`` command line) and (3) its pipeline models are already on disk.
    Nothing is executed and nothing is downloaded to decide this.
    """
    version = _package_version("mineru")
    on_path = shutil.which("mineru") is not None
    if version is None:
        if not on_path:
            return Availability(False, "MinerU is not installed")
        return Availability(False, "a `mineru` command is on PATH, but no MinerU package is installed in this environment")
    if _major(version) >= 4:
        return Availability(
            False,
            f"MinerU {version} is installed, but its command line takes subcommands (`mineru parse`); "
            f"RAG-Anything {_package_version('raganything') or ''} calls `mineru -p FILE -o DIR`, which MinerU 4 "
            "removed (install mineru[core]>=3.4.1,<4 with its models to use MinerU)",
        )
    if not on_path:
        return Availability(
            False, f"MinerU {version} is installed but the `mineru` command RAG-Anything runs is not on PATH"
        )
    if _major(version) < 2:
        return Availability(False, f"MinerU {version} predates the MinerU 2 command line RAG-Anything calls")
    models = _mineru_models()
    if models is None:
        return Availability(
            False,
            f"MinerU {version} is installed but its models ({MINERU_PIPELINE_REPO}) are not on this machine "
            "(no models-dir in mineru.json with MINERU_MODEL_SOURCE=local, no Hugging Face or ModelScope cache); "
            "it would download them from a hub (run `mineru-models-download` where a network is available)",
        )
    return Availability(True, f"MinerU {version} with local models at {models}")


def _docling_artifacts(repo_id: str, subfolder: str = "") -> Path | None:
    """A Docling model folder under ``DOCLING_ARTIFACTS_PATH`` (``owner--name`` layout) or in the hub cache."""
    artifacts = os.environ.get("DOCLING_ARTIFACTS_PATH")
    if artifacts:
        folder = Path(artifacts).expanduser() / repo_id.replace("/", "--")
        if _has_files(folder / subfolder if subfolder else folder):
            return folder
    return hf_snapshot(repo_id, subfolder)


def docling_pdf_status() -> Availability:
    """Whether Docling can parse PDFs here offline.

    Docling's PDF pipeline runs a layout model and TableFormer on PyTorch; docling-slim ships neither the model
    runtime (``docling-ibm-models``) nor the weights. Ready only when the runtime is importable and both weight
    sets are already in ``DOCLING_ARTIFACTS_PATH`` or the Hugging Face cache.
    """
    missing = [pkg for pkg in ("docling", "docling_parse", "docling_ibm_models", "torch") if not _installed(pkg)]
    if missing:
        return Availability(
            False,
            f"Docling's PDF pipeline needs {', '.join(missing)} (docling-slim is installed without its model "
            "runtime; `pip install docling-slim[models-local]` adds it)",
        )
    layout = _docling_artifacts(DOCLING_LAYOUT_REPO)
    tables = _docling_artifacts(DOCLING_TABLES_REPO, "model_artifacts/tableformer")
    if layout is None or tables is None:
        found = ((DOCLING_LAYOUT_REPO, layout), (DOCLING_TABLES_REPO, tables))
        absent = [repo for repo, folder in found if folder is None]
        return Availability(
            False,
            f"Docling's PDF models ({', '.join(absent)}) are not on this machine (neither in DOCLING_ARTIFACTS_PATH "
            "nor in the Hugging Face cache); Docling would download them from a hub "
            "(`docling-tools models download` where a network is available)",
        )
    return Availability(True, f"Docling with local layout models at {layout} and TableFormer at {tables}")


def docling_format_status(suffix: str) -> Availability:
    """Whether Docling can read files with this extension here (no model involved for these formats).

    Args:
        suffix: A lower-case file extension such as ``".docx"``.
    """
    if not _installed("docling"):
        return Availability(
            False, "Docling is not installed (`pip install docling-slim[format-docx,format-html,format-markdown]`)"
        )
    if suffix in PDF_SUFFIXES:
        return docling_pdf_status()
    backend = _DOCLING_BACKENDS.get(suffix)
    if backend is None:
        return Availability(False, f"the offline Docling parser does not read {suffix or 'files without an extension'}")
    module, extra = backend
    if not _installed(module):
        return Availability(False, f"Docling's {suffix} reader needs `{module}` (`pip install docling-slim[{extra}]`)")
    return Availability(True, f"Docling reads {suffix} files without any model")
