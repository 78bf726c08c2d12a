"""Building a registered model: :func:`create_model` (architecture, features, weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

from resnetlab.errors import ConfigError
from resnetlab.models.features import FeatureExtractor
from resnetlab.models.hub.weights import WeightsSource, load_weights
from resnetlab.models.registry import resolve_config
from resnetlab.models.resnet import ResNet


@overload
def create_model(name: str, num_classes: int | None = None, *,
                 weights: WeightsSource | None = None, features_only: Literal[False] = False,
                 out_indices: None = None, strict: bool = True, **overrides) -> ResNet: ...


@overload
def create_model(name: str, num_classes: int | None = None, *,
                 weights: WeightsSource | None = None, features_only: Literal[True],
                 out_indices: Sequence[int] | None = None, strict: bool = True,
                 **overrides) -> FeatureExtractor: ...


def create_model(name: str, num_classes: int | None = None, *,
                 weights: WeightsSource | None = None, features_only: bool = False,
                 out_indices: Sequence[int] | None = None, strict: bool = True,
                 **overrides) -> ResNet | FeatureExtractor:
    """Build a registered model, e.g. ``create_model("resnet56", num_classes=100)``.

    ``overrides`` are :class:`ResNetConfig` fields (``shortcut="B"``, ``in_chans=1``,
    ``zero_init_residual=True``, ``dropout=0.3``…) or ``depth`` (``depth=110`` on a CIFAR net).
    ``weights`` is any source :func:`~resnetlab.models.hub.weights.load_weights` takes (a path,
    an ``http(s)://`` URL, a published tag such as ``"IMAGENET1K_V1"``, a state_dict); it loads
    strictly unless ``strict=False`` (then a differently-sized classifier stays fresh).
    ``features_only=True`` returns a :class:`~resnetlab.models.features.FeatureExtractor` of the
    feature maps at ``out_indices`` (timm's convention: by default the stem and every stage,
    with ``feature_info``). Unknown names raise :class:`UnknownModelError`, bad values
    :class:`ConfigError`, unusable weights :class:`CheckpointError`.
    """
    config = resolve_config(name, num_classes=num_classes, **overrides)
    model: ResNet | FeatureExtractor = ResNet(config, name=name)
    if features_only:
        model = FeatureExtractor(model, out_indices)
    elif out_indices is not None:
        raise ConfigError("out_indices needs features_only=True")
    if weights is not None:
        load_weights(model, weights, strict=strict)
    return model
