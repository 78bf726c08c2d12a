"""The course notebooks: both languages have the same lessons, cells and program, and every
notebook runs top to bottom in quick mode as a real Jupyter kernel executes it, asserting its own
facts.

CI runs each lesson in one language, alternating so that both languages run (about 80 s saved on
the 2-core machine): the other language is the same program up to its text, which
``test_both_languages_run_the_same_program`` proves cell by cell; it runs too under ``-m slow``.
"""

from __future__ import annotations

import ast
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
IN_CI = {slug: LANGS[i % 2] for i, slug in enumerate(SLUGS)}  # es, en, es, ...


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


class _Text(ast.NodeTransformer):
    """Blanks what a translation may change: string literals (the parts of an f-string
    outside its ``{...}``) and the column widths of format specs (a longer Spanish label needs
    a wider column); the rest of a spec (``.1f``, ``,``, alignment) is code and stays."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("…") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return ast.JoinedStr([self.visit(v) for v in node.values
                              if isinstance(v, ast.FormattedValue)])

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node.value = self.visit(node.value)
        if isinstance(node.format_spec, ast.JoinedStr):
            for part in node.format_spec.values:
                if isinstance(part, ast.Constant):  # a width: digits not after "." or a digit
                    part.value = re.sub(r"(?<![.\d])\d+", "W", part.value)
        return node


def _program(source: str) -> tuple[list[str], str]:
    """A code cell as a program: its magics (``%``/``!`` lines) and its syntax tree with the
    translatable text blanked."""
    lines = source.splitlines()
    magics = [line.strip() for line in lines if line.lstrip().startswith(("%", "!"))]
    code = "\n".join(line for line in lines if not line.lstrip().startswith(("%", "!")))
    return magics, ast.dump(_Text().visit(ast.parse(code)))


@pytest.mark.parametrize("slug", SLUGS)
def test_both_languages_run_the_same_program(slug):
    es, en = (_read(lang, slug) for lang in LANGS)
    pairs = [(a.source, b.source) for a, b in zip(es.cells, en.cells, strict=True)
             if a.cell_type == "code"]
    assert pairs
    for a, b in pairs:
        assert _program(a) == _program(b), f"es and en differ beyond their text:\n{a[:200]}"


def test_a_changed_program_is_told_from_a_translation():
    assert _program('print(f"{n:.1f} pasos")') == _program('print(f"{n:.1f} steps")')
    assert _program('print(f"{n:.1f} pasos")') != _program('print(f"{n:.2f} steps")')
    assert _program('f"{n:>8,.1f}"') == _program('f"{n:>12,.1f}"')  # only the width
    assert _program('f"{n:>8,.1f}"') != _program('f"{n:<8,.1f}"')
    assert _program('x = ("a", 1)') != _program('x = ("a", 2)')
    assert _program("%matplotlib inline\nx = 1") != _program("x = 1")


def _run_params():
    """Every (lang, slug); the language CI does not run for a lesson is marked slow."""
    return [pytest.param(lang, slug, id=f"{lang}-{slug}",
                         marks=() if IN_CI[slug] == lang else pytest.mark.slow)
            for slug in SLUGS for lang in LANGS]


@pytest.mark.parametrize(("lang", "slug"), _run_params())
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
