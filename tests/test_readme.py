"""The README's generated reference sections match the code."""

from __future__ import annotations

from pathlib import Path

from twin.docs import render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_sections_are_up_to_date():
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `python -m twin.docs` to refresh README.md"


def test_readme_documents_every_trace_column():
    from twin.trace.schema import TABLES

    text = README.read_text(encoding="utf-8")
    for schema in TABLES.values():
        for field in schema:
            assert f"`{field.name}`" in text


def test_readme_lists_every_built_in_what_if():
    from twin.config import builtin_whatifs

    text = README.read_text(encoding="utf-8")
    for name in builtin_whatifs():
        assert f"| `{name}` |" in text, name
