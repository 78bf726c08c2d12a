"""The course notebooks: both languages have the same lessons and cells, and every notebook
runs top to bottom in quick mode as a real Jupyter kernel executes it, asserting its own facts.
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1] / "tutorials"
LANGS = ("es", "en")
SLUGS = (
    "01-residual-block",
    "02-resnet18-anatomy",
    "03-resnet56-cifar10",
    "04-batchnorm",
    "05-degradation",
    "06-transfer-gradcam",
    "07-resnet-family",
)
_ASSERT = re.compile(r"^\s*assert\b.*$", re.MULTILINE)


def _read(lang: str, slug: str) -> nbformat.NotebookNode:
    return jupytext.read(ROOT / lang / f"{slug}.py")


def _execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()


@pytest.mark.parametrize("lang", LANGS)
def test_every_lesson_exists(lang):
    assert tuple(sorted(p.stem for p in (ROOT / lang).glob("[0-9][0-9]-*.py"))) == SLUGS


@pytest.mark.parametrize("slug", SLUGS)
def test_languages_have_the_same_cells_and_the_same_checks(slug):
    es, en = (_read(lang, slug) for lang in LANGS)
    assert [c.cell_type for c in es.cells] == [c.cell_type for c in en.cells]
    for a, b in zip(es.cells, en.cells, strict=True):
        if a.cell_type == "code":
            assert _ASSERT.findall(a.source) == _ASSERT.findall(b.source), a.source[:80]
    assert sum(len(_ASSERT.findall(c.source)) for c in es.cells if c.cell_type == "code") >= 3
    for nb in (es, en):
        assert nb.cells[0].cell_type == "markdown"
        assert nb.cells[0].source.startswith(f"# {slug[:2]} · ")
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1 and 'os.environ.get("RESNETLAB_QUICK") == "1"' in params[0].source


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("lang", LANGS)
def test_notebook_runs_in_quick_mode(lang, slug, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNETLAB_QUICK", "1")
    monkeypatch.setenv("RESNETLAB_TUTORIAL_OUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("RESNETLAB_DATA_DIR", str(tmp_path / "no-data"))  # nothing downloaded
    monkeypatch.delenv("RESNETLAB_LANG", raising=False)
    nb = _read(lang, slug)
    _execute(nb, tmp_path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    assert list((tmp_path / "outputs").rglob("*.png")), "every lesson saves its figures"


def test_a_false_claim_in_a_notebook_fails_the_run(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 1 + 1 == 3")])
    with pytest.raises(CellExecutionError, match="AssertionError"):
        _execute(nb, tmp_path)
