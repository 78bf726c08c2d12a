"""Published ImageNet weights that resnetlab knows by name, with their SHA-256 prefixes.

Facts copied from torchvision 0.29 (``torchvision.models.<Model>_Weights``): the download URL,
the hash prefix torch hub puts in the file name (the first hex digits of the file's SHA-256),
the evaluation resize (shorter side; the crop is 224) and the published ImageNet-1k top-1.
``IMAGENET1K_V1`` are the original weights of the nine classic models, trained with the
paper-style recipe; ``IMAGENET1K_V2`` were re-trained with torchvision's 2021 recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnetlab.errors import ConfigError

_BASE = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class KnownWeights:
    """One published checkpoint of a registered model."""

    model: str
    tag: str
    url: str
    sha256_prefix: str
    resize_size: int
    top1: float

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def _tv(model: str, tag: str, digest: str, resize: int, top1: float) -> KnownWeights:
    return KnownWeights(model, tag, f"{_BASE}{model}-{digest}.pth", digest, resize, top1)


TORCHVISION_WEIGHTS: tuple[KnownWeights, ...] = (
    _tv("resnet18", "IMAGENET1K_V1", "f37072fd", 256, 69.758),
    _tv("resnet34", "IMAGENET1K_V1", "b627a593", 256, 73.314),
    _tv("resnet50", "IMAGENET1K_V1", "0676ba61", 256, 76.130),
    _tv("resnet101", "IMAGENET1K_V1", "63fe2227", 256, 77.374),
    _tv("resnet152", "IMAGENET1K_V1", "394f9c45", 256, 78.312),
    _tv("resnext50_32x4d", "IMAGENET1K_V1", "7cdf4587", 256, 77.618),
    _tv("resnext101_32x8d", "IMAGENET1K_V1", "8ba56ff5", 256, 79.312),
    _tv("wide_resnet50_2", "IMAGENET1K_V1", "95faca4d", 256, 78.468),
    _tv("wide_resnet101_2", "IMAGENET1K_V1", "32ee1156", 256, 78.848),
    _tv("resnet50", "IMAGENET1K_V2", "11ad3fa6", 232, 80.858),
    _tv("resnet101", "IMAGENET1K_V2", "cd907fc2", 232, 81.886),
    _tv("resnet152", "IMAGENET1K_V2", "f82ba261", 232, 82.284),
    _tv("resnext50_32x4d", "IMAGENET1K_V2", "1a0047aa", 232, 81.198),
    _tv("resnext101_32x8d", "IMAGENET1K_V2", "110c445d", 232, 82.834),
    _tv("resnext101_64x4d", "IMAGENET1K_V1", "173b62eb", 232, 83.246),
    _tv("wide_resnet50_2", "IMAGENET1K_V2", "9ba9bcbe", 232, 81.602),
    _tv("wide_resnet101_2", "IMAGENET1K_V2", "d733dc28", 232, 82.510),
)

_BY_URL = {w.url: w for w in TORCHVISION_WEIGHTS}


def is_tag(source: str) -> bool:
    """Whether ``source`` names published weights (``"IMAGENET1K_V1"``) rather than a file."""
    return source.upper().startswith("IMAGENET1K_")


def known_weights(model: str, tag: str) -> KnownWeights:
    """The published weights ``tag`` (``"IMAGENET1K_V1"``, case-insensitive) of ``model``."""
    tag = tag.upper()
    for w in TORCHVISION_WEIGHTS:
        if w.model == model and w.tag == tag:
            return w
    offered = sorted({w.tag for w in TORCHVISION_WEIGHTS if w.model == model})
    fix = (f"{model} has: {', '.join(offered)}" if offered
           else f"no published weights for {model}; pass a file or URL instead")
    raise ConfigError(f"unknown weights {tag!r} for {model}; {fix}")


def by_url(url: str) -> KnownWeights | None:
    """The table entry for ``url``, if it is one of the published checkpoints."""
    return _BY_URL.get(url)
