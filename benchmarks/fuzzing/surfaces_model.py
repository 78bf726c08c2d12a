"""Surfaces that read models: weight files, model.json, training checkpoints, recipes, argv."""

from __future__ import annotations

import json
import random
import shutil

import torch

from benchmarks.fuzzing.case import Case
from benchmarks.fuzzing.hostile import (
    ODD_VALUES,
    code_pickle,
    huge_safetensors_header,
    lying_safetensors,
    odd_json_value,
)
from benchmarks.fuzzing.mutate import mutate
from benchmarks.fuzzing.seeds import Seeds


class NotAState:
    """A pickled Python object where a state_dict belongs (refused by weights_only)."""


def _weights_bytes(rng: random.Random, seeds: Seeds, case: Case, suffix: str) -> bytes:
    st = (seeds.run / "model.safetensors").read_bytes()
    pth = (seeds.root / "weights.pth").read_bytes()
    kind = rng.randrange(8)
    case.note = ["mutated", "mutated", "code pickle", "huge header", "lying header",
                 "pickled object", "wrong shapes / NaN", "seed"][kind]
    if kind <= 1:
        data, how = mutate(rng, st if suffix == ".safetensors" else pth, [st, pth])
        case.note = how
        return data
    if kind == 2:
        return code_pickle(case.marker, rng.randrange(6), rng.choice([2, 4]))
    if kind == 3:
        return huge_safetensors_header(rng.choice([2**63, 2**63 - 1, 2**64 - 1, 2**40]))
    if kind == 4:
        return lying_safetensors(rng)
    tmp = case.directory / "work" / "tmp.bin"
    if kind == 5:
        torch.save({"state_dict": NotAState()}, tmp)
        return tmp.read_bytes()
    if kind == 6:
        from safetensors.torch import save

        from resnetlab.models.hub.statedict import read_file
        state = read_file(seeds.run / "model.safetensors")
        key = rng.choice(sorted(state))
        if rng.random() < 0.5 and state[key].is_floating_point():
            state[key] = state[key].clone().fill_(rng.choice([float("nan"), float("inf")]))
            case.note = f"non-finite {key}"
        else:
            state[key] = torch.zeros(rng.choice([(3,), (1, 2, 3), (0,)]))
            case.note = f"wrong shape {key}"
        if suffix == ".safetensors":
            return save(state)
        torch.save(state, tmp)
        return tmp.read_bytes()
    return st if suffix == ".safetensors" else pth


def weights(rng: random.Random, seeds: Seeds, case: Case) -> None:
    suffix = rng.choice([".safetensors", ".pth", ".bin"])
    path = case.inputs / f"weights{suffix}"
    path.write_bytes(_weights_bytes(rng, seeds, case, suffix))
    if rng.random() < 0.4:
        case.target, case.args = "read_weights", [str(path)]
        return
    run = case.inputs / "run"  # the file as a run's model.safetensors, beside a good model.json
    run.mkdir()
    shutil.copy(seeds.run / "model.json", run / "model.json")
    shutil.copy(path, run / "model.safetensors")
    source = str(run) if rng.random() < 0.5 else str(path)
    case.target, case.args = "load_model", [source, "resnet20" if source == str(path) else ""]


def _bad_meta(rng: random.Random, meta: dict) -> tuple[object, str]:
    kind = rng.randrange(5)
    key = rng.choice(sorted(meta))
    if kind == 0:
        meta.pop(key)
        return meta, f"missing {key}"
    if kind == 1:
        meta[key] = odd_json_value(rng)
        return meta, f"{key}={str(meta[key])[:30]}"
    if kind == 2:
        meta["model"] = rng.choice(["resnet9999", "", "../x", "ResNet20", "vgg16"])
        return meta, f"model={meta['model']}"
    if kind == 3:
        meta["model_kwargs"] = {rng.choice(["depth", "width", "bogus", "num_classes",
                                            "in_chans", "stem"]): odd_json_value(rng)}
        return meta, f"model_kwargs={meta['model_kwargs']}"[:60]
    return rng.choice([[], "text", 3, None]), "not an object"


def model_json(rng: random.Random, seeds: Seeds, case: Case) -> None:
    run = case.inputs / "run"
    run.mkdir()
    shutil.copy(seeds.run / "model.safetensors", run / "model.safetensors")
    text = (seeds.run / "model.json").read_text()
    roll = rng.random()
    if roll < 0.7:
        meta, case.note = _bad_meta(rng, json.loads(text))
        data = json.dumps(meta).encode()
    elif roll < 0.9:
        data, case.note = mutate(rng, text.encode(), [])
    else:
        data, case.note = text.encode(), "seed"
    (run / "model.json").write_bytes(data)
    if rng.random() < 0.7:
        case.target, case.args = "load_model", [str(run)]
    else:
        image = case.inputs / "digit.png"
        image.write_bytes(seeds.images["grey.png"])
        case.target, case.args = "predict", [str(run), str(image)]


def checkpoint(rng: random.Random, seeds: Seeds, case: Case) -> None:
    data = (seeds.run / "checkpoints" / "last.pt").read_bytes()
    roll = rng.random()
    if roll < 0.15:
        data, case.note = code_pickle(case.marker, rng.randrange(6), 2), "code pickle"
    elif roll < 0.9:
        data, case.note = mutate(rng, data, [])
    else:
        case.note = "seed"
    path = case.inputs / "last.pt"
    path.write_bytes(data)
    case.target, case.args = "load_checkpoint", [str(path)]


def recipe(rng: random.Random, seeds: Seeds, case: Case) -> None:
    from resnetlab.train.recipes import RECIPES, field_names
    names = field_names()
    pairs = [f"{rng.choice(names)}={rng.choice(ODD_VALUES)}" for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.2:
        pairs.append(rng.choice(["=1", "noequals", "lr", " =3", "lr==1"]))
    name = rng.choice([*RECIPES, "nope", ""])
    case.target, case.args, case.note = "recipe", [name, *pairs], "odd --set values"
