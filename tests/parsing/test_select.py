"""``parser="auto"``: which parser runs for which file, and why; MinerU/Docling model detection without a network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llama_index_mmrag.parsing import availability
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.availability import (
    DOCLING_LAYOUT_REPO,
    DOCLING_TABLES_REPO,
    MINERU_PIPELINE_REPO,
    docling_pdf_status,
    mineru_status,
)
from llama_index_mmrag.parsing.select import choose_parser


@pytest.fixture(autouse=True)
def bare_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No model caches, no MinerU or Docling configuration: what a fresh offline machine looks like."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(tmp_path / "ms-cache"))
    for var in ("MINERU_MODEL_SOURCE", "MINERU_TOOLS_CONFIG_JSON", "DOCLING_ARTIFACTS_PATH", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    return home


def _fake_snapshot(repo_id: str, *files: str) -> Path:
    snapshot = availability.hf_hub_cache() / f"models--{repo_id.replace('/', '--')}" / "snapshots" / "abc123"
    for name in files:
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(b"weights")
    return snapshot


def _mineru(monkeypatch: pytest.MonkeyPatch, version: str | None, on_path: bool = True) -> None:
    real = availability._package_version
    monkeypatch.setattr(availability, "_package_version", lambda name: version if name == "mineru" else real(name))
    monkeypatch.setattr(availability.shutil, "which", lambda cmd: f"/usr/bin/{cmd}" if on_path and cmd == "mineru" else None)


def _docling_runtime(monkeypatch: pytest.MonkeyPatch, installed: bool = True) -> None:
    real = availability._installed
    runtime = {"docling_ibm_models", "torch", "docling_parse"}
    monkeypatch.setattr(availability, "_installed", lambda module: installed if module in runtime else real(module))


@pytest.mark.parametrize(
    ("name", "parser", "words"),
    [
        ("report.docx", "docling-offline", "without any model"),
        ("deck.pptx", "docling-offline", "without any model"),
        ("sheet.xlsx", "docling-offline", "without any model"),
        ("page.html", "docling-offline", "without any model"),
        ("page.htm", "docling-offline", "without any model"),
        ("notes.md", "docling-offline", "without any model"),
        ("diagram.PNG", "mmrag", "OCR"),
        ("scan.jpg", "mmrag", "OCR"),
        ("faq.txt", "mmrag", "plain text"),
    ],
)
def test_auto_picks_docling_for_office_web_markdown_and_ocr_for_images(name: str, parser: str, words: str) -> None:
    choice = choose_parser(name)
    assert choice.name == parser
    assert words in choice.reason


def test_auto_uses_the_offline_pdf_parser_and_says_why_mineru_and_docling_were_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    _mineru(monkeypatch, "4.0.12")
    name, reason = choose_parser("paper.pdf")
    assert name == "mmrag"
    assert "MinerU 4.0.12" in reason and "mineru -p" in reason
    assert "Docling PDF not usable" in reason


def test_mineru_4_is_unusable_whatever_models_are_present(monkeypatch: pytest.MonkeyPatch) -> None:
    _mineru(monkeypatch, "4.0.12")
    _fake_snapshot(MINERU_PIPELINE_REPO, "models/Layout/model.pt")
    status = mineru_status()
    assert not status.ready and "subcommands" in status.reason


def test_mineru_3_without_models_would_hit_a_hub_so_it_is_not_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    _mineru(monkeypatch, "3.4.2")
    status = mineru_status()
    assert not status.ready and MINERU_PIPELINE_REPO in status.reason
    assert choose_parser("paper.pdf").name == "mmrag"


def test_mineru_3_with_cached_models_is_chosen_for_pdfs(monkeypatch: pytest.MonkeyPatch) -> None:
    _mineru(monkeypatch, "3.4.2")
    snapshot = _fake_snapshot(MINERU_PIPELINE_REPO, "models/Layout/model.pt")
    assert mineru_status().ready
    name, reason = choose_parser("paper.pdf")
    assert name == "mineru" and str(snapshot) in reason
    assert choose_parser("report.docx").name == "docling-offline"  # Office files still go to Docling


def test_mineru_local_model_source_reads_the_models_dir_from_mineru_json(monkeypatch: pytest.MonkeyPatch, bare_machine: Path, tmp_path: Path) -> None:
    _mineru(monkeypatch, "2.5.4")
    monkeypatch.setenv("MINERU_MODEL_SOURCE", "local")
    assert not mineru_status().ready
    models = tmp_path / "mineru-models"
    (models / "Layout").mkdir(parents=True)
    (models / "Layout" / "model.pt").write_bytes(b"w")
    (bare_machine / "mineru.json").write_text(json.dumps({"models-dir": {"pipeline": str(models)}}))
    assert mineru_status().ready


def test_mineru_not_on_path_or_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    _mineru(monkeypatch, None, on_path=False)
    assert mineru_status().reason == "MinerU is not installed"
    _mineru(monkeypatch, "3.4.2", on_path=False)
    assert "not on PATH" in mineru_status().reason


def test_docling_pdf_needs_its_runtime_and_both_weight_sets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _mineru(monkeypatch, None, on_path=False)
    _docling_runtime(monkeypatch, installed=False)
    assert "docling_ibm_models" in docling_pdf_status().reason

    _docling_runtime(monkeypatch, installed=True)
    _fake_snapshot(DOCLING_LAYOUT_REPO, "model.safetensors")
    status = docling_pdf_status()
    assert not status.ready and DOCLING_TABLES_REPO in status.reason and DOCLING_LAYOUT_REPO not in status.reason

    artifacts = tmp_path / "docling-artifacts"
    (artifacts / "docling-project--docling-models" / "model_artifacts" / "tableformer").mkdir(parents=True)
    (artifacts / "docling-project--docling-models" / "model_artifacts" / "tableformer" / "tm.pt").write_bytes(b"w")
    monkeypatch.setenv("DOCLING_ARTIFACTS_PATH", str(artifacts))
    assert docling_pdf_status().ready
    name, reason = choose_parser("paper.pdf")
    assert name == "docling-offline" and "MinerU not usable" in reason


def test_a_missing_docling_format_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = availability._installed
    monkeypatch.setattr(availability, "_installed", lambda module: False if module == "pptx" else real(module))
    with pytest.raises(ParseError) as info:
        choose_parser("deck.pptx")
    assert "docling-slim[format-pptx]" in info.value.reason
    assert choose_parser("report.docx").name == "docling-offline"


def test_forced_parsers_are_checked_before_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_parser("paper.pdf", "mmrag") == ("mmrag", "parser='mmrag' was requested")
    assert choose_parser("report.docx", "DOCLING").name == "docling"
    _mineru(monkeypatch, "4.0.12")
    with pytest.raises(ParseError, match="parser 'mineru' cannot run here: MinerU 4.0.12"):
        choose_parser("paper.pdf", "mineru")
    with pytest.raises(ParseError, match="parser 'docling' cannot run here: Docling's PDF"):
        choose_parser("paper.pdf", "docling")
    with pytest.raises(ParseError, match="unknown parser 'marker'"):
        choose_parser("paper.pdf", "marker")


@pytest.mark.parametrize(
    ("name", "words"),
    [("old.doc", "save it as .docx"), ("old.ppt", "save it as .pptx"), ("archive.zip", "unsupported file type .zip"), ("README", "(no extension)")],
)
def test_files_no_parser_reads_are_refused_with_what_to_do(name: str, words: str) -> None:
    with pytest.raises(ParseError) as info:
        choose_parser(name)
    assert info.value.path.name == name and words in info.value.reason
