# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · The ResNet family
#
# After the original ResNet (He et al. 2015, "Deep Residual Learning for Image Recognition")
# the idea grew in four directions, and resnetlab builds all of them from one `ResNetConfig`:
#
# | direction | what changes | paper |
# |---|---|---|
# | **depth** | more blocks; bottlenecks from 50 layers on | He et al. 2015 |
# | **pre-activation** (v2) | BN-ReLU *before* each conv, nothing after the sum | He et al. 2016 |
# | **width** (Wide ResNet) | fewer layers, k× more channels | Zagoruyko & Komodakis 2016 |
# | **cardinality** (ResNeXt) | the 3×3 conv split into 32 groups | Xie et al. 2017 |
#
# (He et al. 2016: "Identity Mappings in Deep Residual Networks"; Zagoruyko & Komodakis 2016:
# "Wide Residual Networks"; Xie et al. 2017: "Aggregated Residual Transformations for Deep
# Neural Networks", the ResNeXt paper.)
#
# We compare their size and cost with resnetlab's model cards, check them against the numbers
# the papers print, show the difference between the v1 and v2 blocks *numerically*, and train
# three small members side by side.
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`): about 10 s. Full mode: 2–5 minutes on a laptop
# CPU (3 models × 5 epochs of the 4,068-image CIFAR-10 subset; the wide one takes longest).

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "07"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "en")

QUICK_STEPS = 30  # quick mode: training steps per model on the embedded 8x8 digits
FULL_EPOCHS = 5  # full mode: epochs per model on the CIFAR-10 subset (about 160 steps)

# %%
import csv

import matplotlib.pyplot as plt
import torch
from torch import nn

import resnetlab as rl
from resnetlab.analysis.formulas import param_formula
from resnetlab.models.blocks import BasicBlock, PreActBasicBlock
from resnetlab.models.registry import resolve_config

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. The family in resnetlab's registry
#
# `rl.list_models()` lists every registered name and `rl.get_card(name)` its **model card**:
# the exact parameter count and MACs (multiply-accumulates, one multiplication plus one
# addition) at the default input size, measured on the built model and stored as data, plus the
# paper and the accuracy reported for it, with its source. Reading a card builds nothing.

# %%
IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
            "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]
CIFAR = ["resnet20", "resnet56", "resnet110", "preact_resnet110", "preact_resnet164",
         "wrn_40_4", "wrn_16_8", "wrn_28_10", "resnext29_8x64d", "resnext29_16x64d"]
registered = rl.list_models()
assert set(IMAGENET + CIFAR) <= set(registered)
cards = {name: rl.get_card(name) for name in IMAGENET + CIFAR}
print(f"{len(registered)} registered models; the ones we compare:\n")
print(f"{'name':<18} {'params':>12} {'MACs':>15} {'input':>11}  reported (source)")
for name, card in cards.items():
    size = "×".join(map(str, card.input_size))
    print(f"{name:<18} {card.params:>12,} {card.macs:>15,} {size:>11}  {card.reported}")

# %% [markdown]
# The cards are not typed in: they are measured. We check three of them by counting the
# parameters of the built model (on PyTorch's `meta` device: shapes only, no memory, no
# initialisation), against the counts torchvision publishes for the same architectures.

# %%
TORCHVISION_PARAMS = {"resnet50": 25_557_032, "resnext50_32x4d": 25_028_904,
                      "wide_resnet50_2": 68_883_240}
built = {}
for name, published in TORCHVISION_PARAMS.items():
    with torch.device("meta"):
        built[name] = rl.create_model(name)
    counted = sum(p.numel() for p in built[name].parameters())
    print(f"{name:<16} counted {counted:,} = card {cards[name].params:,} = torchvision")
    assert counted == cards[name].params == published

params = {name: card.params for name, card in cards.items()}
macs = {name: card.macs for name, card in cards.items()}
print(f"wide_resnet50_2 / resnet50: {params['wide_resnet50_2'] / params['resnet50']:.2f}x "
      f"the parameters, {macs['wide_resnet50_2'] / macs['resnet50']:.2f}x the MACs")
print(f"resnext50_32x4d / resnet50: {params['resnext50_32x4d'] / params['resnet50']:.3f}x "
      f"the parameters, {macs['resnext50_32x4d'] / macs['resnet50']:.3f}x the MACs")
print(f"resnet50 / resnet34: {params['resnet50'] / params['resnet34']:.2f}x the parameters, "
      f"{macs['resnet50'] / macs['resnet34']:.2f}x the MACs for 16 more layers")
assert params["wide_resnet50_2"] > 2.5 * params["resnet50"]
assert params["resnext50_32x4d"] < params["resnet50"] and macs["resnext50_32x4d"] > macs["resnet50"]
assert macs["resnet50"] < 1.2 * macs["resnet34"]
assert params["preact_resnet164"] < params["preact_resnet110"]

# %% [markdown]
# Three facts worth remembering: the **Wide** ResNet-50-2 pays 2.7× the parameters for its
# doubled bottleneck width; **ResNeXt**-50 has *fewer* parameters than ResNet-50 at about the
# same MACs (Xie et al. designed it that way, to compare at equal complexity); and the
# **bottleneck** makes depth cheap: ResNet-50 costs barely more than ResNet-34, and the 164-layer
# pre-activation net has fewer parameters than the 110-layer one.
#
# **A correction to the notes.** The Keras `create_resnet(blocks=[3, 4, 6, 3],
# use_bottleneck=True)` of the course notes is not a ResNet-50: its bottleneck *reduces* to
# `filters // 4` and outputs `filters` = 64…512 channels, whereas ResNet-50's bottleneck
# *expands* its inner width ×4, to 256…2048 channels. resnetlab builds that same layout if we
# pass the inner widths 16…128:

# %%
with torch.device("meta"):
    notes_layout = rl.create_model("resnet50", widths=(16, 32, 64, 128))
notes_params = sum(p.numel() for p in notes_layout.parameters())
print(f"the notes' layout: {notes_layout.num_features} output channels, {notes_params:,} "
      f"parameters; ResNet-50: {cards['resnet50'].params:,}")
assert notes_layout.num_features == 512 and notes_params < cards["resnet50"].params / 5

# %% [markdown]
# (The Keras code also gives every convolution a bias; a BatchNorm right after it subtracts
# the mean anyway, which is why ResNet convolutions have `bias=False`.)
#
# ## 2. Against the papers
#
# The papers print rounded figures. The table puts resnetlab's exact counts next to them:
# ImageNet costs from He et al. 2015, Table 1 (the paper's "FLOPs" are multiply-adds, i.e. MACs)
# and Xie et al. 2017, Table 1; CIFAR parameter counts from He et al. 2015, Table 6, He et al.
# 2016, Zagoruyko & Komodakis 2016 and Xie et al. 2017, Table 7.

# %%
HE2015, HE2016 = "He et al. 2015", "He et al. 2016"
WRN, XIE = "Zagoruyko & Komodakis 2016", "Xie et al. 2017"
PAPER = [  # (model, quantity, printed figure, source)
    ("resnet18", "GMACs", "1.8", f"{HE2015}, Table 1"),
    ("resnet34", "GMACs", "3.6", f"{HE2015}, Table 1"),
    ("resnet50", "GMACs", "3.8", f"{HE2015}, Table 1"),
    ("resnet101", "GMACs", "7.6", f"{HE2015}, Table 1"),
    ("resnet152", "GMACs", "11.3", f"{HE2015}, Table 1"),
    ("resnet50", "GMACs", "4.1", f"{XIE}, Table 1"),
    ("resnet50", "M params", "25.5", f"{XIE}, Table 1"),
    ("resnext50_32x4d", "GMACs", "4.2", f"{XIE}, Table 1"),
    ("resnext50_32x4d", "M params", "25.0", f"{XIE}, Table 1"),
    ("resnet20", "M params", "0.27", f"{HE2015}, Table 6"),
    ("resnet56", "M params", "0.85", f"{HE2015}, Table 6"),
    ("resnet110", "M params", "1.7", f"{HE2015}, Table 6"),
    ("preact_resnet110", "M params", "1.7", HE2016),
    ("preact_resnet164", "M params", "1.7", HE2016),
    ("wrn_40_4", "M params", "8.9", WRN),
    ("wrn_16_8", "M params", "11.0", WRN),
    ("wrn_28_10", "M params", "36.5", WRN),
    ("resnext29_8x64d", "M params", "34.4", f"{XIE}, Table 7"),
    ("resnext29_16x64d", "M params", "68.1", f"{XIE}, Table 7"),
]


def ours(name: str, quantity: str) -> float:
    """resnetlab's figure in the paper's unit."""
    return cards[name].macs / 1e9 if quantity == "GMACs" else cards[name].params / 1e6


print(f"{'model':<17} {'quantity':<9} {'paper':>6} {'resnetlab':>10}  source")
for name, quantity, printed, source in PAPER:
    print(f"{name:<17} {quantity:<9} {printed:>6} {ours(name, quantity):>10.3f}  {source}")
for name, quantity, printed, source in PAPER:
    if quantity == "M params":
        # equal up to the printed figure's rounding (half its last digit) or 0.5 %
        decimals = len(printed.partition(".")[2])
        tolerance = max(0.5 * 10 ** -decimals, 0.005 * float(printed))
        assert abs(ours(name, quantity) - float(printed)) <= tolerance, (name, source)

# %% [markdown]
# Every parameter count agrees with the paper up to its rounding. The costs of ResNet-50, 101
# and 152 do not: resnetlab gives 4.09 G for ResNet-50 where He et al. print 3.8 G, while Xie
# et al. print 4.1 G for the "same" network. Both are right, for two different networks. The
# original bottleneck puts the stride-2 of each stage's first block in its first 1×1 conv;
# torchvision (and so resnetlab, to load its weights) puts it in the 3×3 conv, the
# "ResNet v1.5" layout that Xie et al. also used. Then that first 1×1 conv runs at the
# *input* resolution, 4× the positions. From the per-layer MACs of `rl.summary` we can undo it:
# with the stride in the 1×1, that conv costs a quarter of what it costs now.

# %%
r50 = built["resnet50"]
rows = {row.name: row for row in rl.summary(r50, (1, 3, 224, 224), device="meta").rows}
first_convs = [f"{stage}.0.conv1" for stage in ("layer2", "layer3", "layer4")]
saving = sum(0.75 * rows[name].macs for name in first_convs)
for name in first_convs:
    print(f"{name}: {rows[name].macs:,} MACs at {rows[name].output_shape[2]}×"
          f"{rows[name].output_shape[3]}; with stride 2 there: {rows[name].macs // 4:,}")
# the first blocks of stages 2-4 are the same in ResNet-50, 101 and 152: same block, widths
for name in ("resnet101", "resnet152"):
    config = resolve_config(name)
    assert (config.block, config.widths) == (r50.config.block, r50.config.widths)
print(f"saving: {saving / 1e9:.3f} GMACs in each of ResNet-50/101/152")
table1 = [row for row in PAPER if row[3] == f"{HE2015}, Table 1"]
for name, _, printed, source in table1:
    bottleneck = name in ("resnet50", "resnet101", "resnet152")
    v1 = (cards[name].macs - (saving if bottleneck else 0)) / 1e9
    print(f"{name:<10} v1.5 (resnetlab) {cards[name].macs / 1e9:6.3f}  ->  v1 {v1:6.3f}   "
          f"{source}: {printed}")
    assert abs(v1 - float(printed)) < 0.1
assert cards["resnet50"].macs / 1e9 - float(table1[2][2]) > 0.2

# %% [markdown]
# What the papers report as **accuracy** (the cards carry it, with the source):
#
# - He et al. 2015, Table 6 (CIFAR-10 test error): ResNet-20 8.75 %, ResNet-56 6.97 %,
#   ResNet-110 6.43 %. On ImageNet (Table 4) a single ResNet-152 reached 4.49 % top-5 error on
#   the validation set, and an ensemble 3.57 % on the test set (Table 5), which won ILSVRC 2015.
# - He et al. 2016: the same 110-layer net with full pre-activation 6.37 % (Table 2); 164 layers
#   5.46 % (Table 4); 1001 layers 4.62 % (abstract).
# - Zagoruyko & Komodakis 2016: WRN-28-10 4.17 % (Table 4, without dropout), a 28-layer
#   network beating the 1001-layer one.
# - Xie et al. 2017, Table 7: ResNeXt-29 8×64d 3.65 %, 16×64d 3.58 %.
# - ImageNet top-1 of the torchvision weights resnetlab loads: ResNet-50 76.13 %, ResNeXt-50
#   77.62 %, Wide ResNet-50-2 78.47 %.
#
# These are the papers' numbers, measured with their training budgets (hundreds of epochs on
# GPUs); the run at the end of this notebook is far too short to reproduce them.

# %%
for name in ("resnet20", "resnet56", "resnet110", "preact_resnet110", "preact_resnet164",
             "wrn_28_10", "resnext29_8x64d", "resnet50", "resnext50_32x4d", "wide_resnet50_2"):
    print(f"{name:<17} {cards[name].reported}\n{'':<17} {cards[name].paper}")

# %% [markdown]
# ## 3. v1 and pre-activation blocks, numerically
#
# ```
#   v1 (He et al. 2015)                 pre-activation v2 (He et al. 2016)
#   x ─┬─ conv-BN-ReLU-conv-BN ─(+)─ ReLU ─►    x ─┬─ BN-ReLU-conv-BN-ReLU-conv ─(+)─►
#      └────────── identity ─────┘                 └──────────── identity ─────────┘
# ```
#
# The only difference that matters is what happens **after the sum**: v1 applies a ReLU, v2
# nothing. We build one block of each from `resnetlab.models.blocks`, feed them the same input
# and look at the output:
#
# - v1: `out = ReLU(F(x) + x)`, so the output is never negative, and the shortcut's `x` is
#   clipped on its way through;
# - v2: `out = x + F(x)` exactly: the identity path carries `x` untouched.

# %%
x = torch.randn(4, 16, 8, 8)
v1_block, v2_block = BasicBlock(16, 16).eval(), PreActBasicBlock(16, 16).eval()
with torch.no_grad():
    y1, f1, s1 = v1_block(x), v1_block.residual(x), v1_block.shortcut(x)
    y2, f2 = v2_block(x), v2_block.residual(x)
print(f"v1: min output {float(y1.min()):.3f}, negative outputs "
      f"{float((y1 < 0).float().mean()):.0%}, max |out - ReLU(F(x) + x)| = "
      f"{float((y1 - torch.relu(f1 + s1)).abs().max()):.1e}")
print(f"v2: min output {float(y2.min()):.3f}, negative outputs "
      f"{float((y2 < 0).float().mean()):.0%}, max |out - (x + F(x))| = "
      f"{float((y2 - (x + f2)).abs().max()):.1e}")
assert float(y1.min()) >= 0.0 and float((y1 - torch.relu(f1 + s1)).abs().max()) <= 1e-6
assert float(y2.min()) < 0.0 and float((y2 - (x + f2)).abs().max()) <= 1e-6

# %% [markdown]
# Over a whole stage this is He et al. 2016's key equation: with identity shortcuts and nothing
# after the sum, the output of block $L$ is the input of block $l$ plus a **sum** of residuals,
#
# $$x_L = x_l + \sum_{i=l}^{L-1} F(x_i),$$
#
# so the gradient $\partial x_L / \partial x_l$ always contains a plain $1$: signal and gradient
# can cross the stage without being multiplied by any weight. We check it on the first stage of
# a pre-activation ResNet-20 and of the v1 ResNet-20 (three blocks with identity shortcuts).

# %%
digits = rl.data.load("digits")
batch = rl.data.normalize(digits.test.images[:8], digits.test.mean, digits.test.std)


def additive_gap(model: nn.Module, x: torch.Tensor) -> float:
    """max |x_L - (x_0 + sum of residuals)| over the first stage, relative to max |x_L|."""
    h = model.stem(x)
    total = h.clone()
    with torch.no_grad():
        for block in model.layer1:
            total = total + block.residual(h)
            h = block(h)
    return float((h - total).abs().max()) / float(h.abs().max())


v1_net = rl.create_model("resnet20", num_classes=10, in_chans=1).eval()
v2_net = rl.create_model("preact_resnet110", depth=20, num_classes=10, in_chans=1).eval()
with torch.no_grad():
    gaps = {"v1": additive_gap(v1_net, batch), "v2": additive_gap(v2_net, batch)}
print(f"resnet20 (v1):         |x_L - (x_0 + sum F)| / |x_L| = {gaps['v1']:.1e}")
print(f"preact resnet20 (v2):  |x_L - (x_0 + sum F)| / |x_L| = {gaps['v2']:.1e}")
assert gaps["v2"] <= 1e-5 and gaps["v1"] > 1e-2

# %% [markdown]
# ## 4. Width and cardinality inside one block
#
# Where do the differences in size come from? Compare the 3×3 convolution of the first block
# of ResNet-50, ResNeXt-50 32×4d and Wide ResNet-50-2, with `param_formula`
# (out × in/groups × 3 × 3):
#
# - ResNeXt doubles the inner width (64 → 128) but splits it into 32 groups of 4 channels,
#   each seeing only its own 4 inputs: far fewer weights;
# - Wide ResNet doubles the inner width (64 → 128) with no groups: 4× the weights.

# %%
trio = built  # resnet50, resnext50_32x4d and wide_resnet50_2, built on "meta" in section 1
for name, model in trio.items():
    conv = model.layer1[0].conv2
    print(f"{name:<16} layer1.0.conv2 ({conv.in_channels}→{conv.out_channels}, groups "
          f"{conv.groups}): {param_formula(conv)}")
conv_params = {n: m.layer1[0].conv2.weight.numel() for n, m in trio.items()}
assert conv_params["resnext50_32x4d"] == 128 * (128 // 32) * 3 * 3
assert conv_params["wide_resnet50_2"] == 4 * conv_params["resnet50"]

# %% [markdown]
# ## 5. The whole family at a glance
#
# Parameters and MACs from the cards (ImageNet models at 224×224, CIFAR models at 32×32).

# %%
COLORS = {"v1": "#4c72b0", "pre-activation": "#dd8452", "wide": "#55a868", "ResNeXt": "#c44e52"}


def kind(name: str) -> str:
    """The family member's direction, for the bar colour."""
    if "resnext" in name:
        return "ResNeXt"
    if "wide" in name or "wrn" in name:
        return "wide"
    return "pre-activation" if "preact" in name else "v1"


fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
for row, (names, title, unit, scale) in enumerate(
        [(IMAGENET, "ImageNet, 224×224", "GMACs", 1e9), (CIFAR, "CIFAR, 32×32", "GMACs", 1e9)]):
    colors = [COLORS[kind(n)] for n in names]
    for col, (values, label) in enumerate([([params[n] / 1e6 for n in names], "parameters (M)"),
                                           ([macs[n] / scale for n in names], unit)]):
        ax = axes[row, col]
        bars = ax.barh(names, values, color=colors)
        ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_xlim(0, max(values) * 1.18)
        ax.set_title(f"{title}: {label}", fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
fig.legend(handles, list(COLORS), loc="outside lower center", ncols=4, fontsize=9)
fig.suptitle("The ResNet family: size and cost from resnetlab's model cards", fontsize=11)
fig.savefig(OUT / "family.png", dpi=100)
plt.show()

# %% [markdown]
# ## 6. Three members side by side
#
# A small race between a ResNet-20 (v1), the same depth with pre-activation blocks, and a
# Wide ResNet-16-2 (twice the channels, 16 layers), all with the same recipe, data and seed.
# Quick mode: a few steps on the embedded 8×8 digits. Full mode: 5 epochs each on the CIFAR-10
# subset. The recipe is He et al.'s own for CIFAR (`he2016`), shortened: its learning-rate
# drops at 50 % and 75 % of the run keep their place whatever the length.

# %%
MEMBERS = {  # run folder: (label, registered name, overrides)
    "resnet20": ("resnet20 (v1)", "resnet20", {}),
    "preact-resnet20": ("preact resnet20 (v2)", "preact_resnet110", {"depth": 20}),
    "wrn-16-2": ("wrn-16-2 (wide)", "wrn_16_8", {"depth": 16, "widths": (32, 64, 128)}),
}
# He et al.'s CIFAR recipe (he2016: SGD, lr 0.1, /10 at 50 % and 75 % of the run), without
# its 5,000-image validation split; the digits are not mirror-symmetric: no flips
data, length = None, {"overrides": {"iterations": QUICK_STEPS, "batch_size": 64, "pad": 1,
                                    "flip": False, "tta_flip": False, "val_size": 0}}
if not QUICK:
    try:
        data = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
        length = {"overrides": {"epochs": FULL_EPOCHS, "val_size": 0}}
    except rl.ResnetlabError as exc:
        print(f"{exc}\n-> falling back to the embedded digits")
        length["overrides"].update(iterations=300, pad=2)
if data is None:
    # tiny images: one thread is faster than two (docs/training.md, --threads)
    torch.set_num_threads(1)
    data = digits if QUICK else rl.data.load("digits", image_size=16)
print(f"data: {data.name}, {len(data.train)} training and {len(data.test)} test images "
      f"of {tuple(data.input_size)}")

results = {}
for folder, (label, name, overrides) in MEMBERS.items():
    model = rl.create_model(name, num_classes=data.num_classes, in_chans=data.input_size[0],
                            **overrides)
    run = rl.train(model, data, "he2016", OUT / "runs" / folder, seed=SEED, quiet=True,
                   overwrite=True, checkpoint_seconds=0, **length)
    with open(run.run_dir / "metrics.csv") as f:
        history = list(csv.DictReader(f))
    results[folder] = {"label": label, "params": sum(p.numel() for p in model.parameters()),
                      "macs": rl.summary(model, (1, *data.input_size)).total_macs,
                      "top1": run.metrics["test_top1"], "steps": run.metrics["steps"],
                      "seconds": run.metrics["train_seconds"], "history": history}
    r = results[folder]
    print(f"{label:<22} {r['params']:>9,} params {r['macs'] / 1e6:>8.1f} M MACs/image "
          f"{r['steps']:>5} steps {r['seconds']:6.1f} s  test top-1 {100 * r['top1']:.1f} %")
chance = 1 / data.num_classes
assert all(r["top1"] > 2 * chance for r in results.values())
assert results["wrn-16-2"]["params"] > 2 * results["resnet20"]["params"]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for r in results.values():
    steps = [int(h["step"]) for h in r["history"]]
    accuracy = [100 * float(h["test_acc"]) for h in r["history"]]
    ax1.plot(steps, accuracy, marker="o", label=r["label"])
ax1.axhline(100 * chance, color="k", ls="--", lw=1, label="chance")
ax1.set_ylim(0, 100)
ax1.set_xlabel("training step")
ax1.set_ylabel("test accuracy (%)")
ax1.set_title(f"test accuracy during training ({data.name})", fontsize=10)
ax1.legend(fontsize=8)
labels = list(results)
bars = ax2.bar([results[k]["label"] for k in labels], [100 * results[k]["top1"] for k in labels],
               color=[COLORS["v1"], COLORS["pre-activation"], COLORS["wide"]])
ax2.bar_label(bars, labels=[f"{100 * results[k]['top1']:.1f} %\n{results[k]['params']:,} params"
                            for k in labels], fontsize=8)
ax2.set_ylim(0, 115)
ax2.set_ylabel("final test accuracy (%)")
ax2.set_title("after the same number of steps", fontsize=10)
ax2.tick_params(axis="x", labelsize=8)
fig.savefig(OUT / "race.png", dpi=100)
plt.show()

# %% [markdown]
# Read the race with care: a few dozen steps (quick mode) or a few hundred (full mode) are a
# tiny fraction of the papers' 64,000 iterations, another seed moves each bar by several
# points, and the wide net costs several times the MACs per image (see the table), so the
# same steps take it longer. The papers' claims are about long training: pre-activation helps
# most in *very* deep nets (1001 layers), and width beats depth per unit of training time on
# GPUs. What does hold at any length is what we checked exactly above: sizes, costs, and the
# identity path of the pre-activation block.
#
# ## What to take away
#
# - One recipe, four knobs: depth (bottleneck from 50 layers), pre-activation (nothing after
#   the sum, so `x_L = x_l + ΣF`), width (`k`× channels, ~k² parameters), cardinality
#   (grouped 3×3 convs: more width for the same cost).
# - Model cards give exact parameters and MACs; the papers' figures are rounded, and a
#   "ResNet-50" with the stride in the 3×3 conv (v1.5) costs 4.1 GMACs, not 3.8.
# - Parameters are not cost: ResNeXt-50 has fewer parameters than ResNet-50 but more MACs;
#   Wide ResNet-50-2 has 2.7× the parameters and 2.8× the MACs.
