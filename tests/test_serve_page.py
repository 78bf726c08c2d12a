"""The explorer page's static files: shipped as package data, self-contained, fully bilingual.

These read the files only (no browser, no server); tests/test_serve_browser.py drives the page.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STATIC = resources.files("resnetlab") / "serve" / "static"
PAGE_FILES = ("index.html", "explorer.css", "explorer.js", "i18n.js", "charts.js")

# Strings that read the same in both languages (symbols, names, a placeholder alone).
SAME_IN_BOTH = {"option_trained", "col_macs", "norm_ratio", "series_test_acc", "token_label"}


def _read(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _js_string(literals: str) -> str:
    """Value of `"a" + "b"`: the JSON-compatible double-quoted literals, joined."""
    return "".join(json.loads(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"', literals))


def _strings() -> dict[str, dict[str, str]]:
    text = _read("i18n.js")
    tables = {}
    for lang in ("en", "es"):
        body = re.search(rf"^  {lang}: \{{\n(.*?)^  \}},$", text, re.M | re.S)
        assert body, f"no {lang} table in i18n.js"
        entries = re.findall(r'^    (\w+): ((?:"(?:[^"\\]|\\.)*"\s*\+?\s*)+),$', body.group(1),
                             re.M)
        keys = re.findall(r"^    (\w+):", body.group(1), re.M)
        assert len(entries) == len(keys), f"an entry of the {lang} table is not a plain string"
        tables[lang] = {key: _js_string(value) for key, value in entries}
    return tables


def _normalise(text: str) -> str:
    return " ".join(text.split())


def test_every_page_file_is_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    globs = re.search(r"^\[tool\.setuptools\.package-data\]\nresnetlab = \[(.*?)\]", pyproject,
                      re.M | re.S)
    assert globs, "pyproject.toml has no package-data for resnetlab"
    patterns = re.findall(r'"([^"]+)"', globs.group(1))
    for name in PAGE_FILES:
        assert (STATIC / name).is_file(), f"{name} is missing from resnetlab/serve/static"
        assert any(fnmatch(f"serve/static/{name}", p) for p in patterns), (
            f"serve/static/{name} matches no package-data glob {patterns}")


@pytest.mark.parametrize("name", PAGE_FILES)
def test_page_loads_nothing_from_outside_the_server(name):
    text = _read(name)
    # The SVG namespace is an identifier, never fetched.
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"')]*", text))
    urls -= {"http://www.w3.org/2000/svg"}
    assert not [u for u in urls if not u.startswith("//")], urls


def test_english_and_spanish_have_the_same_strings_and_placeholders():
    tables = _strings()
    en, es = tables["en"], tables["es"]
    assert set(en) == set(es), set(en) ^ set(es)
    for key in en:
        assert en[key].strip() and es[key].strip(), key
        assert set(re.findall(r"\{\w+\}", en[key])) == set(re.findall(r"\{\w+\}", es[key])), key
    untranslated = [k for k in en if en[k] == es[k] and k not in SAME_IN_BOTH]
    assert not untranslated, f"Spanish strings still in English: {untranslated}"


def test_spanish_names_the_english_terms_students_will_meet():
    es = _strings()["es"]
    text = " ".join(es.values()).lower()
    for term in ("mapas de características (feature maps)", "conexión residual (skip connection)",
                 "atajo (shortcut)", "sin entrenar", "tasa de aprendizaje (learning rate)",
                 "normalización por lotes (BatchNorm)"):
        assert term.lower() in text, term


def test_every_key_the_page_uses_exists_and_the_html_fallback_is_the_english_text():
    en = _strings()["en"]
    html = _read("index.html")
    script = _read("explorer.js")
    used = set(re.findall(r'data-i18n="(\w+)"', html))
    used |= {k for attrs in re.findall(r'data-i18n-attr="([^"]+)"', html)
             for k in re.findall(r":(\w+)", attrs)}
    used |= set(re.findall(r'\bt\("(\w+)"', script))
    # t(a ? "k1" : "k2")
    for pair in re.findall(r'\bt\([^,()"]*\?\s*"(\w+)"\s*:\s*"(\w+)"', script):
        used |= set(pair)
    used |= set(re.findall(r'"(col_\w+)"', script))  # the table's header keys, mapped through t()
    missing = sorted(k for k in used if k not in en)
    assert not missing, f"keys used but not defined in i18n.js: {missing}"
    for key, text in re.findall(r'data-i18n="(\w+)"[^>]*>([^<]*)<', html):
        assert _normalise(text) == _normalise(en[key]), f"index.html text of {key!r} is stale"
