"""The named variants: each is a base :class:`ResNetConfig` plus the facts for its model card.

Reported accuracies are the sources' own figures (cited per entry); the exact parameter counts
and MACs on the cards are computed from the built model, never typed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnetlab.models.config import ResNetConfig

HE2015 = "He et al. 2015, Deep Residual Learning for Image Recognition (arXiv:1512.03385)"
HE2016 = "He et al. 2016, Identity Mappings in Deep Residual Networks (arXiv:1603.05027)"
ZAGORUYKO2016 = "Zagoruyko & Komodakis 2016, Wide Residual Networks (arXiv:1605.07146)"
XIE2017 = "Xie et al. 2017, Aggregated Residual Transformations (ResNeXt, arXiv:1611.05431)"
BAG2019 = "He et al. 2019, Bag of Tricks for Image Classification (ResNet-D, arXiv:1812.01187)"
TV = "torchvision IMAGENET1K_V1 weights, ImageNet-1k val top-1, single 224 crop"


@dataclass(frozen=True)
class Variant:
    """A registered name: its architecture, family (for ``depth=`` overrides) and card facts."""

    name: str
    config: ResNetConfig
    family: str
    input_size: tuple[int, int, int]
    paper: str
    reported: str
    description: str


IMAGENET_WIDTHS = (64, 128, 256, 512)
CIFAR_WIDTHS = (16, 32, 64)
IMAGENET_LAYERS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)),
                   50: ("bottleneck", (3, 4, 6, 3)), 101: ("bottleneck", (3, 4, 23, 3)),
                   152: ("bottleneck", (3, 8, 36, 3))}
IMAGENET_TOP1 = {18: 69.758, 34: 73.314, 50: 76.130, 101: 77.374, 152: 78.312}
# He et al. 2015, Table 6: CIFAR-10 test error (%) of the 6n+2 ResNets (option A).
CIFAR_ERROR = {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}


def _imagenet(depth: int) -> Variant:
    block, layers = IMAGENET_LAYERS[depth]
    return Variant(
        f"resnet{depth}", ResNetConfig(block, layers, IMAGENET_WIDTHS), "imagenet", (3, 224, 224),
        HE2015, f"top-1 {IMAGENET_TOP1[depth]:.2f} % ({TV})",
        f"ResNet-{depth} for ImageNet ({block} blocks, projection shortcuts where shape changes)",
    )


def _cifar(depth: int, plain: bool) -> Variant:
    n = (depth - 2) // 6
    cfg = ResNetConfig("basic", (n, n, n), CIFAR_WIDTHS, stem="cifar", stem_width=16,
                       shortcut="none" if plain else "A", num_classes=10)
    if plain:
        return Variant(f"plain{depth}", cfg, "plain", (3, 32, 32), HE2015,
                       "no table figure: training curves in Fig. 6 (left)",
                       f"plain {depth}-layer CIFAR net: ResNet-{depth} without shortcuts (§4.2)")
    return Variant(f"resnet{depth}", cfg, "cifar", (3, 32, 32), HE2015,
                   f"CIFAR-10 test error {CIFAR_ERROR[depth]} % (Table 6)",
                   f"CIFAR ResNet-{depth} (6n+2, n={n}), zero-pad shortcuts (option A)")


def _preact(depth: int, block: str, error: float, table: str) -> Variant:
    n = (depth - 2) // (6 if block == "preact_basic" else 9)
    cfg = ResNetConfig(block, (n, n, n), CIFAR_WIDTHS, stem="cifar-preact", stem_width=16,
                       shortcut="B-nobn", num_classes=10)
    return Variant(f"preact_resnet{depth}", cfg, "preact", (3, 32, 32), HE2016,
                   f"CIFAR-10 test error {error} % ({table})",
                   f"pre-activation ResNet-{depth} (ResNet v2) for CIFAR, "
                   f"{block.split('_')[1]} blocks")


def _wrn(depth: int, k: int, error: float) -> Variant:
    n = (depth - 4) // 6
    cfg = ResNetConfig("preact_basic", (n, n, n), tuple(w * k for w in CIFAR_WIDTHS),
                       stem="cifar-preact", stem_width=16, shortcut="B-nobn", num_classes=10)
    return Variant(f"wrn_{depth}_{k}", cfg, "wrn", (3, 32, 32), ZAGORUYKO2016,
                   f"CIFAR-10 test error {error} % (Table 4, no dropout)",
                   f"Wide ResNet-{depth}-{k}: pre-activation basic blocks {k}x wider")


def _resnext29(cardinality: int, error: float) -> Variant:
    cfg = ResNetConfig("bottleneck", (3, 3, 3), (64, 128, 256), stem="cifar", stem_width=64,
                       shortcut="B", groups=cardinality, base_width=64, num_classes=10)
    return Variant(f"resnext29_{cardinality}x64d", cfg, "resnext29", (3, 32, 32), XIE2017,
                   f"CIFAR-10 test error {error} % (Table 7)",
                   f"ResNeXt-29 for CIFAR, cardinality {cardinality}, 64 channels per group")


def _grouped(name: str, depth: int, groups: int, base_width: int, top1: float, what: str,
             paper: str) -> Variant:
    _, layers = IMAGENET_LAYERS[depth]
    cfg = ResNetConfig("bottleneck", layers, IMAGENET_WIDTHS, groups=groups, base_width=base_width)
    return Variant(name, cfg, "imagenet", (3, 224, 224), paper, f"top-1 {top1:.2f} % ({TV})", what)


def all_variants() -> list[Variant]:
    """Every registered variant, in the order ``resnetlab models`` lists them."""
    out = [_imagenet(d) for d in IMAGENET_LAYERS]
    out += [
        _grouped("resnext50_32x4d", 50, 32, 4, 77.618, "ResNeXt-50 32x4d", XIE2017),
        _grouped("resnext101_32x8d", 101, 32, 8, 79.312, "ResNeXt-101 32x8d", XIE2017),
        _grouped("resnext101_64x4d", 101, 64, 4, 83.246,
                 "ResNeXt-101 64x4d (torchvision reports its IMAGENET1K_V1 at 83.25 %)", XIE2017),
        _grouped("wide_resnet50_2", 50, 1, 128, 78.468, "Wide ResNet-50-2 (2x bottleneck width)",
                 ZAGORUYKO2016),
        _grouped("wide_resnet101_2", 101, 1, 128, 78.848, "Wide ResNet-101-2", ZAGORUYKO2016),
        Variant("resnet50d", ResNetConfig("bottleneck", (3, 4, 6, 3), IMAGENET_WIDTHS,
                                          stem="deep", shortcut="B-avgdown"),
                "imagenet", (3, 224, 224), BAG2019, "top-1 79.3 % (Bag of Tricks Table 5, "
                "with their training refinements)",
                "ResNet-50-D: deep 3x3 stem and average-pool shortcuts (timm 'resnet50d' layout)"),
    ]
    out += [_cifar(d, plain=False) for d in CIFAR_ERROR]
    out += [_cifar(d, plain=True) for d in (20, 32, 44, 56, 110)]
    out += [
        _preact(110, "preact_basic", 6.37, "Table 2, full pre-activation"),
        _preact(164, "preact_bottleneck", 5.46, "Table 4"),
        _preact(1001, "preact_bottleneck", 4.62, "abstract, mean of 5 runs"),
        _wrn(16, 8, 4.81), _wrn(28, 10, 4.17), _wrn(40, 4, 4.97),
        _resnext29(8, 3.65), _resnext29(16, 3.58),
        Variant("resnet18_cifar",
                ResNetConfig("basic", (2, 2, 2, 2), IMAGENET_WIDTHS, stem="cifar",
                             num_classes=10),
                "imagenet-cifar", (3, 32, 32), HE2015,
                "no paper figure; a common CIFAR layout (3x3 stem, no max-pool)",
                "ResNet-18 adapted to 32x32 inputs: 3x3 stem, no max-pool, projection shortcuts"),
    ]
    return out
