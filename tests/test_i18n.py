"""One message catalogue: every marked string is translated, compiled and switchable at run time.

The messages are extracted from the code with Babel (``scripts/messages.py``, which reads
``babel.cfg``), so a new ``_("...")`` without its Spanish line fails here, and so does a ``.po``
edited without recompiling its ``.mo``.
"""

from __future__ import annotations

import importlib.util
import io
import re
import string
from fnmatch import fnmatch
from pathlib import Path

import pytest
import torch
from babel.messages.mofile import read_mo

from resnetlab import create_model, i18n
from resnetlab.analysis.render import plot_anatomy
from resnetlab.analysis.residual import block_input, dissect_block, get_block
from resnetlab.errors import ConfigError
from resnetlab.lab import EXPERIMENTS

ROOT = Path(__file__).resolve().parents[1]


def _messages_script():
    """``scripts/messages.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("messages_script", ROOT / "scripts" /
                                                  "messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


messages = _messages_script()


@pytest.fixture(scope="module")
def template():
    return messages.extract()


@pytest.fixture(scope="module")
def spanish():
    return messages.read_catalog("es")


@pytest.fixture(autouse=True)
def english_unless_asked(monkeypatch):
    """Every test starts from the default: no RESNETLAB_LANG, no set_language choice."""
    monkeypatch.delenv(i18n.ENV, raising=False)
    i18n.set_language(None)
    yield
    i18n.set_language(None)


def forms(message) -> tuple[str, ...]:
    """A message's id or string as a tuple (one entry, or one per plural form)."""
    value = message if isinstance(message, str | tuple | list) else message.string
    return (value,) if isinstance(value, str) else tuple(value)


def fields(text: str) -> set[str]:
    """The ``str.format`` fields of ``text`` (ValueError on a stray brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_lab_render_and_lab_command_mark_their_text(template):
    files = {Path(path).as_posix() for message in template for path, _ in message.locations}
    modules = {f"resnetlab/lab/{run.__module__.rsplit('.', 1)[1]}.py"
               for run in EXPERIMENTS.values()}
    expected = modules | {"resnetlab/analysis/render.py", "resnetlab/commands/lab.py",
                          "resnetlab/lab/inputs.py", "resnetlab/lab/common.py"}
    assert expected <= files, f"no marked message in {sorted(expected - files)}"


def test_every_marked_message_is_in_spanish_translated_and_not_fuzzy(template, spanish):
    missing, fuzzy, empty = [], [], []
    for message in template:
        if not message.id:
            continue
        entry = spanish.get(message.id, message.context)
        if entry is None:
            missing.append(message.id)
        elif entry.fuzzy:
            fuzzy.append(message.id)
        elif not all(s.strip() for s in forms(entry)):
            empty.append(message.id)
    assert not missing, f"not in the Spanish .po (run scripts/messages.py): {missing}"
    assert not fuzzy, f"fuzzy in the Spanish .po (review, then drop the flag): {fuzzy}"
    assert not empty, f"untranslated in the Spanish .po: {empty}"


def test_the_catalogue_holds_nothing_the_code_dropped(template, spanish):
    stale = [m.id for m in spanish if m.id and template.get(m.id, m.context) is None]
    assert not stale, f"in the .po but not in the code (run scripts/messages.py): {stale}"


def test_placeholders_agree_between_msgid_and_msgstr(spanish):
    wrong = []
    for message in spanish:
        if not message.id:
            continue
        ids = forms(message.id)
        expected = set().union(*(fields(i) for i in ids))
        strings = forms(message)
        for index, text in enumerate(strings):
            found = fields(text)
            # A singular form may leave out the count ("un paso"); the others name every field.
            ok = found <= expected if index == 0 and len(ids) > 1 else found == expected
            if not ok:
                wrong.append(f"{ids[0]!r} form {index}: {sorted(found)} vs {sorted(expected)}")
    assert not wrong, wrong


def test_the_committed_mo_is_a_compile_of_the_po(spanish):
    def table(catalog):
        return {(m.id if isinstance(m.id, str) else tuple(m.id), m.context): forms(m)
                for m in catalog if m.id}

    fresh = read_mo(io.BytesIO(messages.compile_catalog(spanish)))
    path = messages.po_path("es").with_suffix(".mo")
    with path.open("rb") as mo:
        committed = read_mo(mo)
    assert table(committed) == table(fresh), "run: python scripts/messages.py compile"
    assert committed.plural_forms == fresh.plural_forms


def test_the_compiled_catalogue_is_package_data():
    pyproject = (ROOT / "pyproject.toml").read_text()
    globs = re.search(r"^\[tool\.setuptools\.package-data\]\nresnetlab = \[(.*?)\]", pyproject,
                      re.M | re.S)
    patterns = re.findall(r'"([^"]+)"', globs.group(1))
    mo = messages.po_path("es").with_suffix(".mo").relative_to(ROOT / "src" / "resnetlab")
    assert any(fnmatch(mo.as_posix(), p) for p in patterns), (mo, patterns)
    assert (i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / f"{i18n.DOMAIN}.mo").is_file()


def test_switching_language_in_one_process(spanish):
    english = "random init"
    translated = spanish.get(english).string
    assert translated and translated != english
    assert i18n._(english) == english  # the default
    with i18n.language("es") as lang:
        assert lang == "es" and i18n.current_language() == "es"
        assert i18n._(english) == translated
        with i18n.language("en"):
            assert i18n._(english) == english
        assert i18n._(english) == translated
    assert i18n._(english) == english and i18n.current_language() == "en"
    i18n.set_language("es")
    assert i18n._(english) == translated
    # an explicit lang translates one message without switching the others
    assert i18n.gettext(english, lang="en") == english and i18n.current_language() == "es"


def test_the_environment_is_read_when_a_message_is_translated(monkeypatch, spanish):
    english = "random init"
    assert i18n._(english) == english
    monkeypatch.setenv(i18n.ENV, "es_ES.UTF-8")  # as a notebook's os.environ[...] = ... would
    assert i18n._(english) == spanish.get(english).string
    i18n.set_language("en")  # a choice made in code wins over the environment
    assert i18n._(english) == english
    i18n.set_language(None)  # ...until it is handed back
    assert i18n.current_language() == "es"


def test_plural_forms_follow_the_count(spanish):
    singular, plural = "after {steps} SGD step", "after {steps} SGD steps"
    one, other = spanish.get(singular).string[0], spanish.get(singular).string[-1]
    assert one != other
    with i18n.language("es"):
        assert i18n.ngettext(singular, plural, 1) == one
        assert i18n.ngettext(singular, plural, 3) == other
    assert i18n.ngettext(singular, plural, 1) == singular
    assert i18n.ngettext(singular, plural, 3) == plural


@pytest.mark.parametrize("bad", ["fr", "english", ""])
def test_an_unknown_language_is_a_one_line_config_error_naming_the_choices(bad):
    with pytest.raises(ConfigError) as error:
        i18n.set_language(bad)
    message = str(error.value)
    assert "\n" not in message and all(lang in message for lang in i18n.LANGUAGES)


def test_an_unknown_environment_language_names_the_variable(monkeypatch):
    monkeypatch.setenv(i18n.ENV, "klingon")
    with pytest.raises(ConfigError, match=i18n.ENV):
        i18n._("random init")


def _anatomy():
    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    block = get_block(model, "layer2.0")
    return dissect_block(block, block_input(model, block, torch.randn(1, 3, 32, 32)))


def _panel_text(fig) -> list[str]:
    return [t for ax in fig.axes for t in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel())
            if t]


def test_render_draws_english_by_default_and_takes_an_explicit_language():
    anatomy = _anatomy()
    english = _panel_text(plot_anatomy(anatomy, 2, "t"))
    # the server's picture keeps its English labels: they are the msgids themselves
    assert english[0].startswith("x: block input") and "channel 0" in english
    spanish = _panel_text(plot_anatomy(anatomy, 2, "t", lang="es"))
    assert len(spanish) == len(english)
    assert spanish[0].startswith(i18n.gettext("x: block input", lang="es"))
    assert spanish[0] != english[0]
    # lang= wins over the current language: threads of one server can draw different ones
    with i18n.language("es"):
        assert _panel_text(plot_anatomy(anatomy, 2, "t", lang="en")) == english
        assert _panel_text(plot_anatomy(anatomy, 2, "t")) == spanish
