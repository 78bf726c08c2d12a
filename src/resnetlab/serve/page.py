"""The explorer page's entry: ``GET /`` in the visitor's language (English or Spanish).

The page itself (``static/``: HTML, scripts, styles) is package data written apart from the
server; the server only picks the language from ``Accept-Language`` and writes it into the
``<html lang>`` attribute, which the page reads (and may switch without reloading).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

LANGUAGES = ("en", "es")
DEFAULT_LANGUAGE = "en"
INDEX = "index.html"


def static_dir() -> Path:
    """The folder of the page's files inside the installed package."""
    return Path(str(resources.files("resnetlab.serve").joinpath("static")))


def preferred_language(header: str | None) -> str:
    """``"es"`` when ``Accept-Language`` prefers Spanish to English (by q-value, then order),
    else ``"en"``: ``"es-ES,es;q=0.9,en;q=0.8"`` → es, ``"fr, en;q=0.5, es;q=0.4"`` → en."""
    ranked = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            q = float(match.group(1)) if match else 1.0
        except ValueError:
            q = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > 0:
            ranked.append((-q, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def index_html(language: str) -> str | None:
    """The page's HTML with ``<html lang="...">`` set to ``language``; None if not installed."""
    path = static_dir() / INDEX
    if not path.is_file():
        return None
    html = path.read_text(encoding="utf-8")
    return re.sub(r"<html\b([^>]*?)\blang=\"[^\"]*\"", rf'<html\1lang="{language}"', html,
                  count=1)
