"""Measuring model cards: exact parameters and MACs of every registered model.

The results are stored as data (``assets/cards.json``, written by ``scripts/make_cards.py``) so
that reading a card needs no torch; ``tests/test_cards.py`` measures again and compares.
"""

from __future__ import annotations

import torch

from resnetlab.analysis.summary import summary
from resnetlab.models.cards import ModelCard
from resnetlab.models.registry import get_variant
from resnetlab.models.resnet import ResNet


def card_figures(name: str) -> tuple[int, int]:
    """Exact params and MACs of ``name``, measured on a shortened twin of the model.

    Blocks after the first of a stage are identical, so a twin with at most two blocks per stage
    gives every figure: the second block's share is multiplied by the blocks left out. This keeps
    the measurement fast (ResNet-1202 alone takes seconds to build in full).
    """
    variant = get_variant(name)
    short = variant.config.with_overrides(layers=tuple(min(n, 2) for n in variant.config.layers))
    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = ResNet(short)
    table = summary(model, (1, *variant.input_size), device="meta")
    params, macs = table.total_params, table.total_macs
    for stage, n in zip(model.stage_names, variant.config.layers, strict=True):
        if n > 2:
            prefix = f"{stage}.1."
            block = getattr(model, stage)[1]
            params += (n - 2) * sum(p.numel() for p in block.parameters())
            macs += (n - 2) * sum(r.macs for r in table.rows if r.name.startswith(prefix))
    return params, macs


def measure_card(name: str) -> ModelCard:
    """The card of ``name`` with freshly measured figures."""
    variant = get_variant(name)
    params, macs = card_figures(name)
    return ModelCard(variant.name, variant.description, variant.family, params, macs,
                     tuple(variant.input_size), variant.config.num_classes, variant.paper,
                     variant.reported)
