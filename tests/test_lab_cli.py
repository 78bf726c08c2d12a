"""Every lab experiment runs end to end with --quick through the CLI and leaves valid outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnetlab.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CIFAR_DIR = SHARED / "cifar10-subset" / "cifar-10-batches-py"

# experiment → fields its results.json must have
FIELDS = {
    "features": ["model", "stages", "image"],
    "residual": ["block", "max_abs_diff", "allclose", "shapes"],
    "gradient-flow": ["networks", "verdict_facts", "measurement"],
    "degradation": ["final", "comparisons", "deeper_plain_trains_worse",
                    "deeper_residual_trains_better", "iterations", "history"],
    "batchnorm": ["models", "iterations", "lr", "batch_size"],
    "gradcam": ["model", "layer", "images", "trained_here"],
    "depth": ["table"],
}


def assert_real_png(path: Path, min_side: int = 300) -> None:
    """A decodable PNG, not tiny, and not a blank canvas."""
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert min(image.size) >= min_side, image.size
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    assert pixels.std() > 20, f"{path.name} looks blank (pixel std {pixels.std():.1f})"
    assert path.stat().st_size < 300_000, f"{path.name} is {path.stat().st_size} bytes"


def run_quick(experiment: str, out: Path, *extra: str, capsys) -> tuple[dict, str]:
    code = main(["lab", experiment, "--quick", "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads((out / "results.json").read_text()), captured.out


@pytest.mark.parametrize("experiment", list(FIELDS))
def test_quick_run_writes_results_figures_and_short_verdict(experiment, tmp_path, capsys):
    results, printed = run_quick(experiment, tmp_path, capsys=capsys)
    assert results["experiment"] == experiment
    assert results["quick"] is True and results["ok"] is True
    for field in FIELDS[experiment]:
        assert field in results, f"{experiment}: results.json lacks {field}"
    assert results["figures"], "no figure listed"
    for name in results["figures"]:
        assert_real_png(tmp_path / name, min_side=250)
    lines = printed.strip().splitlines()
    assert 2 <= len(lines) <= 5, printed
    assert lines[-1].startswith("wrote ")


def test_batchnorm_first_iteration_matches_its_curve(tmp_path, capsys):
    results, _ = run_quick("batchnorm", tmp_path, capsys=capsys)
    for model in results["models"].values():
        curve = model["test_accuracy"]
        assert len(curve) == results["iterations"]
        for threshold in (50, 70):
            first = model[f"first_iteration_above_{threshold}"]
            above = [i + 1 for i, a in enumerate(curve) if a > threshold / 100]
            assert first == (above[0] if above else None)


def test_quick_without_data_dir_says_it_fell_back_to_digits(tmp_path, capsys):
    _, printed = run_quick("batchnorm", tmp_path, capsys=capsys)
    assert "embedded digits" in printed


@pytest.mark.parametrize("experiment", ["degradation", "batchnorm"])
def test_real_mode_without_data_dir_is_a_one_line_error_naming_the_flag(
        experiment, tmp_path, capsys):
    code = main(["lab", experiment, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "--data-dir" in err


def test_missing_data_dir_is_a_one_line_error(tmp_path, capsys):
    code = main(["lab", "degradation", "--quick", "--data-dir", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "--data-dir" in err


def test_features_and_residual_accept_trained_weights(tmp_path, capsys):
    run_quick("gradcam", tmp_path / "gradcam", capsys=capsys)
    run_dir = tmp_path / "gradcam" / "model"
    assert (run_dir / "model.safetensors").is_file()
    features, _ = run_quick("features", tmp_path / "f", "--weights", str(run_dir),
                            capsys=capsys)
    assert features["trained"] is True and features["model"] == "resnet20"
    # the model was trained on 1×16×16 digits: the image is fed at that size
    assert features["input_shape"] == [1, 16, 16]
    residual, _ = run_quick("residual", tmp_path / "r", "--weights", str(run_dir),
                            capsys=capsys)
    assert residual["allclose"] is True and residual["shortcut"] == "A"
    # an RGB file for this grey model is converted, not rejected
    path = tmp_path / "colour.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(
        path)
    colour, _ = run_quick("features", tmp_path / "c", "--weights", str(run_dir), "--image",
                          str(path), capsys=capsys)
    assert colour["input_shape"] == [1, 16, 16]


def test_features_reads_an_image_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "noise.png"
    Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(path)
    results, _ = run_quick("features", tmp_path / "out", "--image", str(path), "--model",
                           "resnet20", capsys=capsys)
    assert results["image"] == str(path)
    assert [s["shape"] for s in results["stages"]] == [
        [16, 32, 32], [16, 32, 32], [32, 16, 16], [64, 8, 8]]


@pytest.mark.skipif(not CIFAR_DIR.is_dir(), reason="shared CIFAR-10 subset not available")
def test_quick_degradation_on_the_shared_cifar_subset(tmp_path, capsys):
    results, printed = run_quick("degradation", tmp_path, "--data-dir", str(CIFAR_DIR),
                                 capsys=capsys)
    assert results["data"] == "cifar10"
    assert "embedded digits" not in printed
    for name in ("plain20", "plain56", "resnet20", "resnet56"):
        final = results["final"][name]
        assert 0.0 <= final["train_error"] <= 1.0 and 0.0 <= final["test_error"] <= 1.0


# --- language: --lang es / RESNETLAB_LANG draw and print Spanish; English stays the default ---

def drawn_labels(fig) -> dict[str, list[str]]:
    """What a student reads on a figure: its (sub)figure titles, and each axes' title, axis
    labels and legend, read from the matplotlib text artists of the drawn Figure."""
    from matplotlib.figure import SubFigure

    labels: dict[str, list[str]] = {"figure": [], "title": [], "xlabel": [], "ylabel": [],
                                    "legend": []}
    figures = [fig, *(f for f in fig.findobj(SubFigure) if f is not fig)]
    labels["figure"] = [t.get_text() for f in figures for t in f.texts if t.get_text()]
    for ax in fig.axes:
        labels["title"].append(ax.get_title())
        labels["xlabel"].append(ax.get_xlabel())
        labels["ylabel"].append(ax.get_ylabel())
        legend = ax.get_legend()
        if legend is not None:
            labels["legend"] += [legend.get_title().get_text(),
                                 *(t.get_text() for t in legend.get_texts())]
    return {kind: [t for t in texts if t] for kind, texts in labels.items()}


def english_left_over(fig) -> list[str]:
    """Catalogued English phrases (with a different Spanish text) still drawn on ``fig``."""
    from babel.messages.pofile import read_po
    from matplotlib.text import Text

    from resnetlab import i18n

    with (i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / f"{i18n.DOMAIN}.po").open("rb") as po:
        catalog = read_po(po)
    drawn = " | ".join(t.get_text() for t in fig.findobj(Text))
    # whole msgids, or their lines (a title's first line is drawn as one text)
    phrases = {line.strip() for m in catalog if isinstance(m.id, str) and m.id != m.string
               for line in m.id.split("\n")}
    return sorted(p for p in phrases if len(p) > 8 and "{" not in p and p in drawn)


def run_drawn(experiment: str, out: Path, *extra: str, capsys) -> tuple[dict, list[str], dict]:
    """Run ``experiment --quick``: results.json, printed lines, ``{png name: Figure}``."""
    from resnetlab.lab import record_figures

    with record_figures() as figures:
        results, printed = run_quick(experiment, out, *extra, capsys=capsys)
    return results, printed.strip().splitlines(), {p.name: f for p, f in figures.items()}


@pytest.fixture
def no_language_set(monkeypatch):
    from resnetlab import i18n

    monkeypatch.delenv(i18n.ENV, raising=False)
    i18n.set_language(None)
    yield monkeypatch
    i18n.set_language(None)


def test_residual_figure_and_verdict_are_spanish_with_lang_es_and_english_by_default(
        tmp_path, capsys, no_language_set):
    en_results, en_lines, en_figs = run_drawn("residual", tmp_path / "en", capsys=capsys)
    es_results, es_lines, es_figs = run_drawn("residual", tmp_path / "es", "--lang", "es",
                                              capsys=capsys)
    assert set(es_figs) == set(en_figs) == {"residual.png"}
    en, es = drawn_labels(en_figs["residual.png"]), drawn_labels(es_figs["residual.png"])

    # English by default: the title and axis labels of docs/lab.md's figure
    assert "block layer2.0" in en["figure"][0] and "input" in en["figure"][0]
    assert en["title"][0].startswith("x: block input")
    assert en["ylabel"][0] == "channel 0" and "activation" in en["ylabel"][-1]
    # --lang es: the same places in Spanish
    assert "bloque layer2.0" in es["figure"][0] and "entrada" in es["figure"][0]
    assert es["title"][0].startswith("x: entrada del bloque")
    assert "atajo (shortcut)" in " ".join(es["title"])
    assert es["ylabel"][0] == "canal 0" and "activación" in es["ylabel"][-1]
    for kind in ("figure", "ylabel"):
        assert len(es[kind]) == len(en[kind]) and not set(es[kind]) & set(en[kind]), kind
    assert english_left_over(en_figs["residual.png"])  # the check sees English when it is there
    assert not english_left_over(es_figs["residual.png"])

    # the verdict and the closing line
    assert "tolerance" in en_lines[0] and en_lines[-1].startswith("wrote ")
    assert "tolerancia" in es_lines[0] and "atajo" in es_lines[0]
    assert es_lines[-1].startswith("guardados ") and "residual.png" in es_lines[-1]
    assert es_results["verdict"] == es_lines[:-1]

    # results.json stays language-neutral: only the verdict and the recorded language differ
    def neutral(results: dict) -> dict:
        kept = {k: v for k, v in results.items() if k not in {"verdict", "created", "seconds"}}
        kept["settings"] = {k: v for k, v in results["settings"].items() if k != "lang"}
        return kept

    assert neutral(es_results) == neutral(en_results)
    assert (en_results["settings"]["lang"], es_results["settings"]["lang"]) == ("en", "es")


def test_batchnorm_figure_follows_resnetlab_lang(tmp_path, capsys, no_language_set):
    no_language_set.setenv("RESNETLAB_LANG", "es")
    _, lines, figures = run_drawn("batchnorm", tmp_path, capsys=capsys)
    fig = figures["batchnorm.png"]
    labels = drawn_labels(fig)
    assert "normalización por lotes (BatchNorm)" in labels["title"][0]
    assert "iteración" in labels["xlabel"][0] and "precisión" in labels["ylabel"][0]
    assert "marcadores" in labels["legend"][0]
    assert labels["legend"][1:] == ["LeNet-5 con BatchNorm", "LeNet-5 (sin BatchNorm)"]
    assert not english_left_over(fig)
    assert "iteración" in lines[0] and "digits" in lines[-2]  # the fallback note, in Spanish
    assert "embedded digits" not in "\n".join(lines)


def test_lang_flag_wins_over_the_environment(tmp_path, capsys, no_language_set):
    no_language_set.setenv("RESNETLAB_LANG", "es")
    _, lines, figures = run_drawn("depth", tmp_path, "--lang", "en", capsys=capsys)
    labels = drawn_labels(figures["depth.png"])
    assert labels["xlabel"][0].startswith("depth") and labels["title"][0] == "parameters vs depth"
    assert lines[-1].startswith("wrote ")


@pytest.mark.parametrize(("flag", "env"), [("fr", None), (None, "fr")])
def test_unknown_language_is_a_one_line_error_naming_the_choices(
        flag, env, tmp_path, capsys, no_language_set):
    if env:
        no_language_set.setenv("RESNETLAB_LANG", env)
    out = tmp_path / "out"
    code = main(["lab", "depth", "--out", str(out), *(["--lang", flag] if flag else [])])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert "'fr'" in err and "en" in err and "es" in err
    assert ("--lang" if flag else "RESNETLAB_LANG") in err
    assert not out.exists()  # refused before anything was written
