"""Model cards: what a user wants to know about a name before building it.

The figures (exact parameters, MACs at the default input size) are measured by
:func:`resnetlab.analysis.cards.measure_card` and stored in ``assets/cards.json`` by
``scripts/make_cards.py``; a test re-measures every card against the stored data. Reading them
needs no torch, so ``resnetlab models`` starts in a fraction of a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources

from resnetlab.errors import ConfigError
from resnetlab.models.registry import get_variant, list_models

CARDS_FILE = "assets/cards.json"


@dataclass(frozen=True)
class ModelCard:
    """A registered model's description, family, exact size and cost, and its source."""

    name: str
    description: str
    family: str
    params: int
    macs: int
    input_size: tuple[int, int, int]
    num_classes: int
    paper: str
    reported: str

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        return cls(**{**data, "input_size": tuple(data["input_size"])})


@cache
def _stored() -> dict[str, dict]:
    text = resources.files("resnetlab").joinpath(CARDS_FILE).read_text()
    return {card["name"]: card for card in json.loads(text)}


def get_card(name: str) -> ModelCard:
    """The model card of ``name``: exact params, MACs at the default input size, sources."""
    variant = get_variant(name)  # unknown names: UnknownModelError with a did-you-mean
    stored = _stored().get(variant.name)
    if stored is None:
        raise ConfigError(f"no stored card for {name}; regenerate them with "
                          "'python scripts/make_cards.py'")
    return ModelCard.from_dict(stored)


def all_cards(pattern: str = "*") -> list[ModelCard]:
    """Cards of the registered names matching ``pattern``, in registry order."""
    return [get_card(n) for n in list_models(pattern)]
