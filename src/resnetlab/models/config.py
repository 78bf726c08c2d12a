"""What defines a ResNet's architecture, as plain data: :class:`ResNetConfig`.

It imports no torch, so the registry, the CLI's model table and model.json handling can read and
check configurations without paying for ``import torch`` (about 2 s on a small machine).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

BLOCK_NAMES = ("basic", "bottleneck", "preact_basic", "preact_bottleneck")
SHORTCUTS = ("A", "B", "C", "none", "B-nobn", "B-avgdown")
STEMS = ("imagenet", "cifar", "cifar-preact", "deep")


@dataclass(frozen=True)
class ResNetConfig:
    """Everything that defines a ResNet's architecture.

    ``widths`` are the per-stage "planes" (a bottleneck stage outputs ``planes * 4`` channels);
    ``layers`` the number of blocks per stage. Stage ``i > 0`` halves the resolution.
    """

    block: str
    layers: tuple[int, ...]
    widths: tuple[int, ...]
    stem: str = "imagenet"
    stem_width: int = 64
    shortcut: str = "B"
    groups: int = 1
    base_width: int = 64
    dropout: float = 0.0
    num_classes: int = 1000
    in_chans: int = 3
    zero_init_residual: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    def validate(self) -> ResNetConfig:
        """Raise ``ValueError`` naming the first bad field; returns ``self`` for chaining."""
        checks = [
            (self.block in BLOCK_NAMES, f"block must be one of {sorted(BLOCK_NAMES)}"),
            (self.stem in STEMS, f"stem must be one of {STEMS}"),
            (self.shortcut in SHORTCUTS, f"shortcut must be one of {SHORTCUTS}"),
            (len(self.layers) == len(self.widths) > 0, "layers and widths need equal length"),
            (all(n >= 1 for n in self.layers), "every stage needs at least one block"),
            (self.num_classes >= 1, f"num_classes must be >= 1, got {self.num_classes}"),
            (self.in_chans >= 1, f"in_chans must be >= 1, got {self.in_chans}"),
            (self.groups >= 1 and self.base_width >= 1, "groups and base_width must be >= 1"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def with_overrides(self, **overrides) -> ResNetConfig:
        """A copy with some fields replaced (unknown names raise ``TypeError``)."""
        return replace(self, **overrides)

    def to_dict(self) -> dict:
        """JSON-friendly form (tuples become lists)."""
        return {k: v for k, v in asdict(self).items() if k != "extra"}
