"""Experiment ``residual``: the anatomy of one block, y = post(F(x) + S(x)).

He et al. 2015, §3.1–3.2: a block learns the residual F(x) = H(x) − x and adds it to the
shortcut. The figure shows, for a few channels of a real image's activations, the block input,
both branches, their sum and the block output side by side on one colour scale; results.json
checks that the block's own ``forward`` is exactly ``post(F(x) + S(x))``.
"""

from __future__ import annotations

from pathlib import Path

from resnetlab.analysis.render import plot_anatomy
from resnetlab.analysis.residual import TOLERANCE, block_input, dissect_block, get_block
from resnetlab.i18n import DEFAULT, N_, _, gettext
from resnetlab.lab.common import LabResult, sci
from resnetlab.lab.inputs import data_for, load_lab_model, sample_input
from resnetlab.lab.plotting import save

FIGURE = "residual.png"
_SHORTCUT_TEXT = {"A": N_("zero-pad"), "B": N_("1x1 conv+BN"), "C": N_("1x1 conv+BN"),
                  "B-nobn": N_("1x1 conv"), "B-avgdown": N_("avg-pool+1x1 conv+BN")}


def _shortcut_text(target, lang: str | None = None) -> str:
    """What the block's shortcut is (``identity``, ``1x1 conv+BN (option B)``...) in ``lang``."""
    if not target.has_skip:
        return gettext("none (plain)", lang=lang)
    if target.downsample is None:
        return gettext("identity", lang=lang)
    kind = target._shortcut_kind
    module = (gettext(_SHORTCUT_TEXT[kind], lang=lang) if kind in _SHORTCUT_TEXT
              else type(target.downsample).__name__)
    return gettext("{module} (option {option})", lang=lang).format(module=module, option=kind)


def run(out_dir: Path, quick: bool = False, *, model: str | None = None,
        weights: str | None = None, block: str = "layer2.0", image: str | None = None,
        data: str | None = None, data_dir: str | None = None, index: int = 0,
        channels: int = 4, untrained: bool = False) -> LabResult:
    """Dissect ``block`` of the model for one image; check forward == post(F + S).

    The model is chosen as in :func:`resnetlab.lab.features.run` (``weights``, else the
    newest fitting run under ``./runs``, else random init).
    """
    lab_model = load_lab_model(model, weights, default="resnet18", data=data,
                               untrained=untrained)
    net = lab_model.model.eval()  # eval: no BatchNorm statistics updates while we probe
    target = get_block(net, block)
    lab_data = data_for(lab_model, image, data, data_dir, quick)
    sample = sample_input(lab_model, image, lab_data, index)
    anatomy = dissect_block(target, block_input(net, target, sample.x))
    channels = max(1, channels)

    kind = type(target).__name__
    skip = target._shortcut_kind if target.has_skip else "none"
    skip_text = _shortcut_text(target)
    title = _("{model} ({state}) block {block}: {kind}, shortcut {shortcut}; input {source}"
              ).format(model=lab_model.name, state=lab_model.state, block=block,
                       kind=kind, shortcut=skip_text, source=sample.shown_as)
    figure = save(plot_anatomy(anatomy, channels, title), out_dir / FIGURE)

    f_norm = float(anatomy.residual.norm())
    s_norm = float(anatomy.shortcut.norm()) if anatomy.shortcut is not None else None
    ok = anatomy.allclose
    results = {
        "model": lab_model.name, "trained": lab_model.trained, "weights": lab_model.source,
        "found_run": lab_model.found, "block": block,
        "block_type": kind, "shortcut": skip, "shortcut_module": _shortcut_text(target, DEFAULT),
        "post": anatomy.post_name, "image": sample.source,
        "shapes": {"x": list(anatomy.x.shape[1:]), "residual": list(anatomy.residual.shape[1:]),
                   "shortcut": (list(anatomy.shortcut.shape[1:])
                                if anatomy.shortcut is not None else None),
                   "output": list(anatomy.output.shape[1:])},
        "max_abs_diff": anatomy.max_abs_diff, "tolerance": TOLERANCE, "allclose": ok,
        "residual_norm": f_norm, "shortcut_norm": s_norm,
        "residual_to_shortcut_norm": f_norm / s_norm if s_norm else None,
    }
    check = _("OK") if ok else _("FAILED: forward is not post(F(x) + S(x))")
    post = "ReLU" if anatomy.post_name == "ReLU" else _("identity")
    recomputed = f"{post}(F(x)+S(x))" if s_norm is not None else f"{post}(F(x))"
    verdict = [
        _("{model} {block} ({kind}, shortcut {shortcut}): max |block(x) - {recomputed}| = "
          "{difference} (tolerance {tolerance}) -> {check}").format(
            model=lab_model.name, block=block, kind=kind, shortcut=skip_text,
            recomputed=recomputed, difference=sci(anatomy.max_abs_diff),
            tolerance=f"{TOLERANCE:g}", check=check),
    ]
    if s_norm:
        verdict.append(_("||F(x)|| / ||S(x)|| = {ratio}: how much the block changes its input "
                         "(trained ResNets learn small residuals, He et al. 2015 Fig. 7)"
                         ).format(ratio=f"{f_norm / s_norm:.2f}"))
    verdict += [n for n in (lab_model.note, lab_data and lab_data.note) if n]
    return LabResult("residual", results, [figure], verdict, ok=ok)
