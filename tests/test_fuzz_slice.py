"""The CI slice of the reliability campaign (benchmarks/fuzz.py): fixed seeds, every surface,
0 bugs; and the classifier itself, on cases whose class is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fuzzing.campaign import SURFACES, run_campaign
from benchmarks.fuzzing.case import new_case
from benchmarks.fuzzing.classify import ACCEPTED, BUG, USER_ERROR
from benchmarks.fuzzing.runner import run_case
from benchmarks.fuzzing.seeds import make_seeds

CASES_PER_SURFACE = 36  # 9 surfaces: 324 cases
SEED = 20260


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    make_seeds(root / "seeds")  # the tiny training run, once for every surface
    return root


@pytest.mark.parametrize("surface", list(SURFACES))
def test_slice_finds_no_bug(work, surface):
    report = run_campaign(CASES_PER_SURFACE, SEED, work, work / "out", [surface])
    counts = report.counts[surface]
    assert sum(counts.values()) == CASES_PER_SURFACE
    assert counts[BUG] == 0, report.bugs
    assert counts[USER_ERROR] > 0  # the hostile inputs really reached the readers


def _case(work: Path, target: str, *args: str):
    case = new_case("unit", 0, work / f"unit-{target}-{len(args)}-{args[-1][-8:]}")
    case.target, case.args = target, list(args)
    return case


def test_known_inputs_get_their_class(work):
    seeds = make_seeds(work / "seeds")
    image = work / "good.png"
    image.write_bytes(seeds.images["rgb.png"])
    text = work / "text.jpg"
    text.write_bytes(seeds.images["text.jpg"])
    watched: list = []
    assert run_case(_case(work, "read_image", str(image)), watched).kind == ACCEPTED
    bad = run_case(_case(work, "read_image", str(text)), watched)
    assert bad.kind == USER_ERROR and "cannot read" in bad.reason
    assert run_case(_case(work, "cli", "models", "resnet2*"), watched).kind == ACCEPTED
    usage = run_case(_case(work, "cli", "train", "--epochs", "zero"), watched)
    assert usage.kind == USER_ERROR and usage.reason.startswith("error:")


def test_bugs_are_recognised(work):
    seeds = make_seeds(work / "seeds")
    image = work / "good.png"
    image.write_bytes(seeds.images["rgb.png"])
    wrong = run_case(_case(work, "read_image", str(image), "7"), [])  # 3 channels, not 7
    assert wrong.kind == BUG and "wrong" in wrong.reason
    case = _case(work, "cli", "models", "--json")
    case.args.append(str(case.inputs / "written-into-the-input.json"))
    assert "input folder changed" in run_case(case, []).reason
    crash = run_case(_case(work, "recipe", "fast", "lr=0.1", "extra-positional-ignored"), [])
    assert crash.kind == USER_ERROR  # a malformed --set pair is the user's


def _regression_inputs(work: Path, case, kind: str) -> None:
    """Rebuild, in ``case``, the input of a bug an earlier campaign found (docs/reliability.md)."""
    import json
    import pickle
    import shutil

    import torch
    from safetensors.torch import save

    from resnetlab.models.hub.statedict import read_file

    seeds = make_seeds(work / "seeds")
    run = case.inputs / "run"
    if kind in ("nan", "counter", "recipe-list", "model-list", "huge-depth", "pth-as-st"):
        shutil.copytree(seeds.run, run, ignore=shutil.ignore_patterns("checkpoints", "tensorb*"))
        case.target, case.args = "load_model", [str(run)]
    if kind in ("nan", "counter"):
        state = read_file(run / "model.safetensors")
        if kind == "nan":
            state["conv1.weight"] = torch.full_like(state["conv1.weight"], float("nan"))
        else:
            state["layer2.0.bn2.num_batches_tracked"] = torch.zeros(3)
        (run / "model.safetensors").write_bytes(save(state))
    elif kind in ("recipe-list", "model-list", "huge-depth"):
        meta = json.loads((run / "model.json").read_text())
        key, value = {"recipe-list": ("recipe", [1, 2]), "model-list": ("model", [[1]]),
                      "huge-depth": ("model_kwargs", {"depth": 2**63})}[kind]
        meta[key] = value
        (run / "model.json").write_text(json.dumps(meta))
        case.target = "predict" if kind == "recipe-list" else "load_model"
        image = case.inputs / "digit.png"
        image.write_bytes(seeds.images["grey.png"])
        case.args = [str(run), str(image)] if kind == "recipe-list" else [str(run)]
    elif kind == "pth-as-st":
        shutil.copy(seeds.root / "weights.pth", run / "model.safetensors")
    elif kind == "png-as-weights":
        path = case.inputs / "digit.png"
        path.write_bytes(seeds.images["rgb.png"])
        case.target, case.args = "read_weights", [str(path)]
    elif kind in ("cifar-labels", "cifar-huge-length", "cifar-codec"):
        folder = case.inputs / "cifar-10-batches-py"
        folder.mkdir()
        for name, data in seeds.cifar.items():
            (folder / name).write_bytes(data)
        batch = pickle.loads(seeds.cifar["test_batch"], encoding="bytes")
        if kind == "cifar-labels":
            batch[b"labels"] = "x" * 24
            data = pickle.dumps(batch, protocol=2)
        elif kind == "cifar-codec":  # _codecs.encode("abc", "l`tin1"): a bit-flipped codec
            text = [b"X" + len(t).to_bytes(4, "little") + t for t in (b"abc", b"l`tin1")]
            data = b"\x80\x02c_codecs\nencode\n" + b"".join(text) + b"\x86R."
        else:  # a BINBYTES8 opcode claiming 2**62 bytes
            data = b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"abc"
        (folder / "test_batch").write_bytes(data)
        case.target, case.args = "load_cifar10", [str(folder)]
    elif kind == "symlink-loop":
        for name in ("a", "b"):
            (case.inputs / "photos" / name).mkdir(parents=True)
            for i in range(3):
                (case.inputs / "photos" / name / f"{i}.png").write_bytes(seeds.images["rgb.png"])
        (case.inputs / "photos" / "a" / "loop").symlink_to(case.inputs / "photos")
        case.target, case.args = "load_folder", [str(case.inputs / "photos")]


# The input of each bug and the class it gets now (a .pth saved as model.safetensors loads:
# the content decides, not the name).
FOUND = {"nan": USER_ERROR, "counter": USER_ERROR, "recipe-list": USER_ERROR,
         "model-list": USER_ERROR, "huge-depth": USER_ERROR, "pth-as-st": ACCEPTED,
         "png-as-weights": USER_ERROR, "cifar-labels": USER_ERROR,
         "cifar-huge-length": USER_ERROR, "cifar-codec": USER_ERROR, "symlink-loop": ACCEPTED}


@pytest.mark.parametrize("kind", sorted(FOUND))
def test_bugs_found_by_the_campaign_stay_fixed(work, kind):
    case = new_case("regression", 0, work / f"regression-{kind}")
    _regression_inputs(work, case, kind)
    outcome = run_case(case, [])
    assert outcome.kind == FOUND[kind], (outcome.reason, outcome.detail[-1500:])
