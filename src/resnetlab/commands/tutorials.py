"""``resnetlab tutorials list|copy``: the course notebooks, in Spanish and English.

The lessons are kept as jupytext ``py:percent`` sources (``tutorials/<lang>/NN-slug.py`` in the
repository; the wheel carries them as ``resnetlab/tutorials/<lang>/``, see ``setup.py``), so they
diff like code. ``copy`` writes them as ``.ipynb`` notebooks without outputs, ready for Jupyter.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from resnetlab import i18n
from resnetlab.commands import options
from resnetlab.errors import ConfigError, DataError

LANGUAGES = i18n.LANGUAGES
_TITLE = re.compile(r"^# # (\d+) · (.+)$", re.MULTILINE)  # the first markdown cell's heading


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course in one language."""

    number: int
    slug: str  # "01-residual-block", the same in every language
    title: str  # in the notebook's language
    source: Path  # the py:percent file


def tutorials_root() -> Path:
    """Where the lessons are: inside the installed package, else the repository's tutorials/."""
    package = Path(__file__).resolve().parents[1]
    for root in (package / "tutorials", package.parents[1] / "tutorials"):
        if all((root / lang).is_dir() for lang in LANGUAGES):
            return root
    raise DataError(f"the tutorial notebooks are missing from this installation ({package}); "
                    "reinstall resnetlab from its wheel or repository")


def lessons(lang: str) -> list[Lesson]:
    """The lessons of one language in course order."""
    if lang not in LANGUAGES:
        raise ConfigError(f"no tutorials in language {lang!r}: choose {' or '.join(LANGUAGES)}")
    found = []
    for path in sorted((tutorials_root() / lang).glob("[0-9][0-9]-*.py")):
        match = _TITLE.search(path.read_text(encoding="utf-8"))
        title = match.group(2).strip() if match else path.stem
        found.append(Lesson(int(path.stem[:2]), path.stem, title, path))
    return found


def chosen_language(flag: str | None) -> str:
    """``--lang`` if given, else ``RESNETLAB_LANG``, else English (one rule for every command)."""
    return i18n.check_language(flag, "--lang") if flag is not None else i18n.current_language()


def _add_lang(parser: argparse.ArgumentParser) -> None:
    options.add(parser, "--lang", "the notebooks' language")


def register(parser: argparse.ArgumentParser) -> None:
    """The ``list`` and ``copy`` actions of ``resnetlab tutorials``."""
    parser.description = (
        "The course notebooks, one per lesson, in Spanish (es) and English (en): the residual "
        "block, ResNet-18's anatomy, ResNet-56 on CIFAR-10, batch normalization, degradation, "
        "transfer learning with Grad-CAM, the ResNet family. Each runs in seconds with "
        "RESNETLAB_QUICK=1 and on real data without it.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    show = actions.add_parser("list", help="print the lessons and their titles",
                              description="Print the number, file name and title of each lesson.")
    _add_lang(show)
    show.set_defaults(func=run_list)
    copy = actions.add_parser(
        "copy", help="write the notebooks as .ipynb into a folder",
        description="Write every lesson as a Jupyter notebook (no outputs) into DEST; existing "
        "files are kept unless --overwrite.")
    copy.add_argument("dir", metavar="DEST", type=Path, help="folder to write (made if missing)")
    _add_lang(copy)
    copy.add_argument("--py", action="store_true",
                      help="write the jupytext py:percent sources instead of .ipynb notebooks")
    options.add(copy, "--overwrite", "replace notebooks of the same name in DEST")
    copy.set_defaults(func=run_copy)


def run_list(args: argparse.Namespace) -> int:
    """Print the lessons of the chosen language."""
    lang = chosen_language(args.lang)
    items = lessons(lang)
    width = max(len(lesson.slug) for lesson in items)
    for lesson in items:
        print(f"{lesson.number:02d}  {lesson.slug:<{width}}  {lesson.title}")
    print(f"{len(items)} lessons ({lang}); 'resnetlab tutorials copy DEST --lang {lang}' writes "
          "them as notebooks")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    """Write the notebooks; refuse before writing anything if one would be replaced."""
    import jupytext  # the py:percent reader and .ipynb writer (a dependency, not vendored)

    lang = chosen_language(args.lang)
    items = lessons(lang)
    out: Path = args.dir.expanduser()
    suffix = "py" if args.py else "ipynb"
    targets = [out / f"{lesson.slug}.{suffix}" for lesson in items]
    existing = [t.name for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise ConfigError(f"{out} already has {', '.join(existing)}; pass --overwrite to replace "
                          "them, or choose another folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for lesson, target in zip(items, targets, strict=True):
            if args.py:
                target.write_bytes(lesson.source.read_bytes())
            else:
                jupytext.write(jupytext.read(lesson.source), target, fmt="ipynb")
    except OSError as exc:
        raise ConfigError(f"cannot write into {out} ({exc.strerror}); choose a writable "
                          "folder") from exc
    print(f"wrote {len(targets)} {lang} notebooks to {out}")
    print(f"open them with 'jupyter lab {out}'; RESNETLAB_QUICK=1 runs each in seconds")
    return 0
