"""``resnetlab tutorials list|copy``: the lessons as a student gets them from an install."""

from __future__ import annotations

import nbformat
import pytest

from resnetlab.cli import main
from resnetlab.commands.tutorials import lessons


@pytest.mark.parametrize("lang", ["es", "en"])
def test_list_shows_seven_lessons_with_their_titles(lang, capsys):
    assert main(["tutorials", "list", "--lang", lang]) == 0
    out = capsys.readouterr().out.splitlines()
    items = lessons(lang)
    assert len(items) == 7 and [x.number for x in items] == list(range(1, 8))
    for line, lesson in zip(out, items, strict=False):
        assert line.startswith(f"{lesson.number:02d}  {lesson.slug}") and lesson.title in line
    assert len({x.title for x in lessons("es")} & {x.title for x in lessons("en")}) < 7


def test_copy_writes_clean_notebooks_and_keeps_existing_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RESNETLAB_LANG", "es")  # the default language follows the environment
    assert main(["tutorials", "copy", str(tmp_path)]) == 0
    written = sorted(tmp_path.glob("*.ipynb"))
    assert [p.stem for p in written] == [x.slug for x in lessons("es")]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        lesson = lessons("es")[int(path.stem[:2]) - 1]
        assert nb.cells[0].source.startswith(f"# {lesson.number:02d} · {lesson.title}")
    first = written[0]
    first.write_text("my own edits")
    capsys.readouterr()
    assert main(["tutorials", "copy", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already has" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert first.read_text() == "my own edits"  # nothing already written is lost
    assert main(["tutorials", "copy", str(tmp_path), "--overwrite"]) == 0
    assert first.read_text() != "my own edits"


def test_copy_py_sources_are_the_shipped_files(tmp_path):
    assert main(["tutorials", "copy", str(tmp_path), "--lang", "en", "--py"]) == 0
    for lesson in lessons("en"):
        assert (tmp_path / f"{lesson.slug}.py").read_bytes() == lesson.source.read_bytes()


def test_unknown_language_is_a_usage_error(tmp_path, capsys):
    assert main(["tutorials", "copy", str(tmp_path), "--lang", "fr"]) == 2
    err = capsys.readouterr().err
    assert "'fr'" in err and "en, es" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())
