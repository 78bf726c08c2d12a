"""The language of human text (lab verdicts, figure labels): English or Spanish, via GNU gettext.

Messages are written in English in the code and marked with :func:`_` (or :func:`ngettext`
when they depend on a count); the Spanish catalogue is
``resnetlab/locale/es/LC_MESSAGES/resnetlab.po`` (compiled to ``resnetlab.mo`` next to it by
``scripts/messages.py``). The language is looked up when a message is translated, not when a
module is imported, so it can change within one process:

>>> from resnetlab import i18n
>>> with i18n.language("es"):
...     i18n._("random init")
'sin entrenar'
>>> i18n._("random init")
'random init'

Which language: the last :func:`set_language` (or the innermost :func:`language` block), else
the environment variable ``RESNETLAB_LANG``, else English. The choice is process-wide (one
student, one language); code that serves several languages at once (a web server's threads)
passes ``lang=`` to :func:`gettext` / :func:`ngettext` instead of switching.
"""

from __future__ import annotations

import contextlib
import gettext as _gettext
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from resnetlab.errors import ConfigError

DOMAIN = "resnetlab"
ENV = "RESNETLAB_LANG"
DEFAULT = "en"
LANGUAGES = ("en", "es")  # English is the language of the code: it needs no catalogue
LOCALE_DIR = Path(__file__).with_name("locale")

_chosen: str | None = None  # set_language's choice; None: the environment decides


def check_language(lang: str, source: str = "language") -> str:
    """``lang`` as one of :data:`LANGUAGES` (``"ES"``, ``"es_ES.UTF-8"``, ``"es-MX"`` → ``"es"``).

    ``source`` names where the value came from (``--lang``, ``RESNETLAB_LANG``) in the one-line
    :class:`~resnetlab.errors.ConfigError` an unknown language raises.
    """
    base = lang.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    if base not in LANGUAGES:
        raise ConfigError(f"{source} {lang!r} is not a language resnetlab speaks; choose one of "
                          f"{', '.join(LANGUAGES)}")
    return base


def current_language() -> str:
    """The language messages are translated into now (see the module docstring)."""
    if _chosen is not None:
        return _chosen
    value = os.environ.get(ENV, "").strip()
    return check_language(value, ENV) if value else DEFAULT


def set_language(lang: str | None) -> None:
    """Translate into ``lang`` from now on; ``None`` hands the choice back to ``RESNETLAB_LANG``."""
    global _chosen
    _chosen = None if lang is None else check_language(lang)


@contextlib.contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Translate into ``lang`` inside the block (``None``: leave the language as it is);
    yields the language in effect and restores the previous choice on exit."""
    global _chosen
    before = _chosen
    if lang is not None:
        _chosen = check_language(lang)
    try:
        yield current_language()
    finally:
        _chosen = before


@cache
def _catalogue(lang: str) -> _gettext.NullTranslations:
    if lang == DEFAULT:
        return _gettext.NullTranslations()
    # No silent fallback to English: a missing .mo is a broken install, and should say so.
    try:
        return _gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no compiled {lang} catalogue {DOMAIN}.mo under {LOCALE_DIR}; run "
            "'python scripts/messages.py compile' (or reinstall resnetlab)") from None


def translation(lang: str | None = None) -> _gettext.NullTranslations:
    """The gettext translations of ``lang`` (default: :func:`current_language`)."""
    return _catalogue(current_language() if lang is None else check_language(lang))


def gettext(message: str, *, lang: str | None = None) -> str:
    """``message`` (English) in ``lang``, default the current language."""
    return translation(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, *, lang: str | None = None) -> str:
    """The singular or plural form for count ``n``, in ``lang`` (default: current)."""
    return translation(lang).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it yet (module-level labels
    that must be translated when they are shown, in the language of that moment)."""
    return message


_ = gettext  # the conventional short name, which the catalogue tools look for

__all__ = ["DEFAULT", "ENV", "LANGUAGES", "N_", "_", "check_language", "current_language",
           "gettext", "language", "ngettext", "set_language", "translation"]
