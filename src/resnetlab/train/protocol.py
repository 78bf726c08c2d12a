"""``--protocol paper``: He et al. 2015's CIFAR-10 experiment (§4.2), exactly, as one name.

The numbers below are the paper's (arXiv 1512.03385, §4.2 and Table 6): 45k/5k train/validation
split of the 50k training images, batch 128, SGD with momentum 0.9 and weight decay 1e-4, lr
0.1 divided by 10 at 32k and 48k iterations, stop at 64k; option A shortcuts (zero-padded
identity), so the nets have the paper's parameter counts. The recipe that carries them is
``he2016`` (:mod:`resnetlab.train.recipes`); this module adds what a recipe cannot say: that
the data must be the full CIFAR-10, checked before anything is trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from resnetlab.errors import ConfigError
from resnetlab.train.recipes import Recipe, get_recipe, with_overrides

PROTOCOLS = ("paper",)


@dataclass(frozen=True)
class PaperPlan:
    """The resolved plan of §4.2: what a run with ``--protocol paper`` trains."""

    recipe: str = "he2016"
    dataset: str = "cifar10"
    train_images: int = 45_000
    val_images: int = 5_000
    test_images: int = 10_000
    batch_size: int = 128
    iterations: int = 64_000
    lr: float = 0.1
    lr_drops_at: tuple[int, ...] = (32_000, 48_000)
    lr_factor: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    shortcut: str = "A"
    image_size: int = 32
    width: int = 16
    # Table 6's test errors (%), for the docs and the verdict: not measured here.
    paper_test_error: tuple[tuple[str, float], ...] = (
        ("resnet20", 8.75), ("resnet32", 7.51), ("resnet44", 7.17), ("resnet56", 6.97),
        ("resnet110", 6.43))

    @property
    def milestones(self) -> tuple[float, ...]:
        """The lr drops as fractions of the run, as :class:`Recipe` stores them."""
        return tuple(i / self.iterations for i in self.lr_drops_at)

    def recipe_overrides(self, train_images: int | None = None) -> dict:
        """Recipe fields that pin the plan, whatever the he2016 defaults become.

        ``train_images``: the size of other data run with ``--force``; it keeps the paper's
        share of held-out images (10 %) instead of 5,000, which a subset may not have.
        """
        full = self.train_images + self.val_images
        held_out = (self.val_images if train_images in (None, full)
                    else self.val_images / full)
        return {"iterations": self.iterations, "batch_size": self.batch_size,
                "lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "schedule": "step", "milestones": self.milestones, "gamma": self.lr_factor,
                "val_size": held_out, "pad": 4, "flip": True, "image_size": 0}

    def to_dict(self) -> dict:
        """JSON form (results.json, config.json)."""
        return {**asdict(self), "milestones": list(self.milestones)}


PAPER = PaperPlan()


def resolve_protocol(name: str) -> PaperPlan:
    """The plan called ``name`` (only ``paper`` exists); unknown names are a one-line error."""
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return PAPER


def paper_recipe(plan: PaperPlan = PAPER, train_images: int | None = None) -> Recipe:
    """The he2016 recipe with every number of the plan pinned (what ``resnetlab train
    --protocol paper`` trains with); ``train_images`` as in :meth:`PaperPlan.recipe_overrides`.
    """
    return with_overrides(get_recipe(plan.recipe), plan.recipe_overrides(train_images))


def check_paper_model(shortcut: str, *, force: bool = False) -> None:
    """Refuse a model without the paper's option-A (or no, for plain nets) shortcuts."""
    if force or shortcut in (PAPER.shortcut, "none"):
        return
    raise ConfigError(f"--protocol paper trains CIFAR nets with option A shortcuts; this model has "
                      f"shortcut {shortcut!r}. Pick resnet20/32/44/56/110 or plain20..110 "
                      "(see 'resnetlab models'), or add --force")


def check_paper_data(data_name: str, train_images: int, test_images: int, *,
                     force: bool = False) -> None:
    """Refuse data that is not the full CIFAR-10 (50k train + 10k test) unless ``force``.

    The paper's schedule is counted in iterations over 45k images: on a subset the same 64k
    iterations are hundreds of epochs, and the result is not the paper's experiment.
    """
    full = PAPER.train_images + PAPER.val_images
    if force or (data_name == PAPER.dataset and train_images == full
                 and test_images == PAPER.test_images):
        return
    raise ConfigError(
        f"--protocol paper needs the full CIFAR-10 ({full:,} training and "
        f"{PAPER.test_images:,} test images); this data is {data_name} with {train_images:,} and "
        f"{test_images:,}. Point --data-dir at the full dataset, or add --force to run the "
        "paper's schedule on it anyway")
