"""Keep the message catalogues in step with the code: extract → update the .po → compile the .mo.

    python scripts/messages.py            # update, then compile (what you run after editing text)
    python scripts/messages.py update     # new msgids into every .po (Spanish: empty, to fill in)
    python scripts/messages.py compile    # every .po → its .mo (the file resnetlab reads)
    python scripts/messages.py check      # exit 1 if a msgid is missing, untranslated or fuzzy

The messages are the strings marked with ``_()``, ``gettext()``, ``ngettext()`` or ``N_()``
(:mod:`resnetlab.i18n`) in the files ``babel.cfg`` names. The ``.po`` files are the source of
truth (translators edit them; Babel marks a changed msgid *fuzzy* until they review it); the
compiled ``.mo`` files are committed too, because the package ships and reads them.
``tests/test_i18n.py`` uses :func:`extract` and :func:`compile_catalog` of this file.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from babel.messages import frontend
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "src"  # babel.cfg's patterns are relative to this directory
CONFIG = ROOT / "babel.cfg"
LOCALE = SOURCES / "resnetlab" / "locale"
DOMAIN = "resnetlab"
LANGUAGES = ("es",)  # English is the language of the code: it has no catalogue
WIDTH = 100  # the repository's line length, so .po diffs stay readable


def _method_map() -> list[tuple[str, str]]:
    with CONFIG.open() as config:
        # parse_mapping_cfg arrived in Babel 2.14; parse_mapping is its older name.
        parse = getattr(frontend, "parse_mapping_cfg", None) or frontend.parse_mapping
        method_map, _options = parse(config, str(CONFIG))
    return method_map


def extract() -> Catalog:
    """Every marked message of the code, as a template catalogue (no translations)."""
    template = Catalog(project=DOMAIN, domain=DOMAIN, fuzzy=False)
    for path, line, message, comments, context in extract_from_dir(
            SOURCES, _method_map(), keywords=DEFAULT_KEYWORDS, comment_tags=("TRANSLATORS:",),
            strip_comment_tags=True):
        template.add(message, None, [(path, line)], auto_comments=comments, context=context)
    return template


def po_path(lang: str) -> Path:
    """``src/resnetlab/locale/<lang>/LC_MESSAGES/resnetlab.po``."""
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    """The ``.po`` of ``lang`` as a Babel catalogue."""
    with po_path(lang).open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    # No line numbers: they would change on every edit of the code around a message.
    write_po(buffer, catalog, width=WIDTH, ignore_obsolete=True, include_lineno=False)
    return buffer.getvalue()


def update(lang: str, template: Catalog) -> Path:
    """Merge ``template`` into ``lang``'s ``.po`` (creating it if needed)."""
    path = po_path(lang)
    if path.exists():
        catalog = read_catalog(lang)
        created = catalog.creation_date
        catalog.update(template)
        catalog.creation_date = created  # only real changes should show in the diff
    else:
        catalog = Catalog(locale=lang, domain=DOMAIN, project=DOMAIN,
                          creation_date=template.creation_date)
        catalog.update(template)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_po_bytes(catalog))
    return path


def compile_catalog(catalog: Catalog) -> bytes:
    """The ``.mo`` bytes of ``catalog``; fuzzy translations are left out (English shows)."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def problems(lang: str, template: Catalog) -> list[str]:
    """What keeps ``lang`` from being complete: missing, untranslated or fuzzy msgids, stale
    ones, and format errors Babel finds."""
    catalog = read_catalog(lang)
    found = []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id, message.context)
        strings = entry.string if entry is not None and isinstance(entry.string, tuple) else (
            (entry.string,) if entry is not None else ())
        if entry is None:
            found.append(f"missing: {message.id!r}")
        elif entry.fuzzy:
            found.append(f"fuzzy: {message.id!r}")
        elif not all(strings):
            found.append(f"untranslated: {message.id!r}")
    found += [f"not in the code any more: {m.id!r}" for m in catalog
              if m.id and template.get(m.id, m.context) is None]
    found += [f"{m.id!r}: {error}" for m, errors in catalog.check() for error in errors]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", nargs="?", default="all",
                        choices=("all", "update", "compile", "check"))
    action = parser.parse_args(argv).action
    template = extract()
    print(f"{len([m for m in template if m.id])} messages in the code")
    status = 0
    for lang in LANGUAGES:
        if action in ("all", "update"):
            print(f"updated {update(lang, template).relative_to(ROOT)}")
        if action in ("all", "compile"):
            mo = po_path(lang).with_suffix(".mo")
            mo.write_bytes(compile_catalog(read_catalog(lang)))
            print(f"compiled {mo.relative_to(ROOT)}")
        if action in ("all", "check"):
            for line in problems(lang, template):
                print(f"{lang}: {line}", file=sys.stderr)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
