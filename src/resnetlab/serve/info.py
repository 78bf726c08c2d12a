"""``GET /v1/models/{id}``: a served model described, from its card to every layer.

The per-layer table is :func:`resnetlab.analysis.summary.summary` at the model's own input
size, each row with the formula of its parameter count
(the summary row's formula) and the stage it belongs to; it is computed
once per model and kept.
"""

from __future__ import annotations

from typing import Any

from resnetlab.analysis.residual import block_names
from resnetlab.analysis.summary import summary
from resnetlab.errors import ResnetlabError
from resnetlab.models.cards import get_card
from resnetlab.serve import runfiles
from resnetlab.serve.registry import ServedModel


def _stage(name: str, stages: list[str], seen_stage: bool) -> str:
    top = name.split(".")[0]
    if top in stages:
        return top
    return "head" if seen_stage else "stem"


def summary_table(served: ServedModel) -> dict[str, Any]:
    """``{"rows": [{name, type, stage, output_shape, params, macs, formula, block}], "total_params",
    "total_macs"}``; ``output_shape`` is one sample's (no batch dimension)."""
    if "summary" in served.cache:
        return served.cache["summary"]
    model = served.model
    with served.lock:  # the summary hooks into every module
        table = summary(model, (1, *served.meta["input_size"]))
    stages = list(getattr(model, "stage_names", []))
    rows, seen_stage = [], False
    for row in table.rows:
        stage = _stage(row.name, stages, seen_stage)
        seen_stage = seen_stage or stage in stages
        formula = f"{row.formula} = {row.params:,}" if row.formula else ""
        rows.append({"name": row.name, "type": row.type, "stage": stage,
                     "output_shape": [int(d) for d in row.output_shape[1:]],
                     "params": int(row.params), "macs": int(row.macs), "formula": formula,
                     "block": row.container})
    result = {"rows": rows, "total_params": int(table.total_params),
              "total_macs": int(table.total_macs)}
    served.cache["summary"] = result
    return result


def card(served: ServedModel) -> dict[str, Any] | None:
    """The registered model card of the architecture, None for a name without one."""
    try:
        return get_card(served.name).to_dict()
    except ResnetlabError:
        return None


def detail(served: ServedModel) -> dict[str, Any]:
    """The whole body of ``GET /v1/models/{id}``."""
    meta = served.meta
    return {
        "id": served.id, "name": served.name, "trained": served.trained, "card": card(served),
        "meta": {"classes": served.classes,
                 "input_size": [int(s) for s in meta["input_size"]],
                 "mean": [float(m) for m in meta["mean"]],
                 "std": [float(s) for s in meta["std"]]},
        "summary": summary_table(served),
        "blocks": block_names(served.model),
        **runfiles.describe(served),
    }
