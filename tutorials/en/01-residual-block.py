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
# # 01 · The residual block
#
# A residual network is built from one idea: instead of asking a few layers to compute the
# mapping we want, $H(x)$, let them compute only the **residual** $F(x) = H(x) - x$ and add the
# input back through a **skip connection** (also called *shortcut*):
#
# $$y = \mathrm{ReLU}\big(F(x) + S(x)\big), \qquad S(x) = x \text{ when shapes agree.}$$
#
# (He et al. 2015, *Deep Residual Learning for Image Recognition*, §3.1–3.2.) In this lesson we
# take the blocks of `resnetlab` apart and check every claim with numbers:
#
# 1. the sum $F(x) + S(x)$ inside a `BasicBlock`, verified to the last bit;
# 2. why learning the identity is easy for a residual block;
# 3. the `Bottleneck` block and what its parameter count really says;
# 4. what the shortcut must do when the shape changes, and the paper's options A, B and C;
# 5. two traps in the course notes' teaching code (notes 000 and 001).
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`): a few seconds. Full mode: under a minute; the only
# difference is that the test tensors have ResNet-18's real sizes (56×56 maps instead of 8×8).
# This lesson needs no dataset.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))  # unused here: no dataset needed
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "01"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "en")

SIDE = 8 if QUICK else 56  # height and width of the feature maps we feed the blocks
BATCH = 2 if QUICK else 8

# %%
import copy

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import StrMethodFormatter
from torch import nn

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.residual import TOLERANCE
from resnetlab.models.blocks import BasicBlock, BottleneckBlock, PreActBasicBlock, ResidualBlock

torch.manual_seed(SEED)
print(f"quick mode: {QUICK}; feature maps {SIDE}×{SIDE}, batch {BATCH}; "
      f"tolerance of the residual checks: {TOLERANCE:g}")

# %% [markdown]
# ## 1. The residual sum, checked
#
# `resnetlab`'s blocks keep the two branches apart: `block.residual(x)` is $F(x)$ (conv 3×3 →
# batch normalization → ReLU → conv 3×3 → batch normalization) and `block.shortcut(x)` is
# $S(x)$. The block's own `forward` must be exactly $\mathrm{ReLU}(F(x) + S(x))$. We put the
# block in evaluation mode, so that batch normalization uses its stored statistics and calling
# the block twice gives the same answer.

# %%
block = BasicBlock(64, 64).eval()  # 64 channels in and out, stride 1: the shape does not change
x = torch.randn(BATCH, 64, SIDE, SIDE)

with torch.no_grad():
    F_x = block.residual(x)
    S_x = block.shortcut(x)
    y = block(x)
    recomputed = torch.relu(F_x + S_x)

max_diff = float((y - recomputed).abs().max())
print("x      ", tuple(x.shape))
print("F(x)   ", tuple(F_x.shape))
print("S(x)   ", tuple(S_x.shape), "- the identity: S(x) is x itself" if S_x is x else "")
print(f"max |block(x) - ReLU(F(x) + S(x))| = {max_diff:.2e}")
assert block.downsample is None and S_x is x
assert y.shape == x.shape
assert max_diff <= 1e-6

# %% [markdown]
# ## 2. Why the identity is easy to learn
#
# Suppose the best thing a block can do is to leave its input alone, $H(x) = x$. A stack of
# plain layers would have to learn weights that reproduce $x$ exactly; a residual block only
# has to push $F(x)$ to zero. Setting the scale $\gamma$ of the last batch normalization to
# zero does exactly that (this is the `zero_init_residual=True` option of
# `rl.create_model`, used by Goyal et al. 2017 to start deep networks as shallow ones).
# Block inputs come out of a ReLU, so they are never negative, and then the block is the
# identity.

# %%
quiet = copy.deepcopy(block)
nn.init.zeros_(quiet.last_bn().weight)  # γ = 0 in bn2: F(x) = β = 0 for every input
x_pos = torch.relu(x)  # a block's input is the output of a ReLU: never negative

with torch.no_grad():
    f_quiet = quiet.residual(x_pos)
    y_quiet = quiet(x_pos)

print(f"max |F(x)|        = {float(f_quiet.abs().max()):.2e}")
print(f"max |block(x) - x| = {float((y_quiet - x_pos).abs().max()):.2e}")
assert float(f_quiet.abs().max()) == 0.0
assert torch.equal(y_quiet, x_pos)

# %% [markdown]
# ## 3. The bottleneck block
#
# For ResNet-50/101/152 the block becomes a **bottleneck**: a 1×1 convolution reduces the
# channels (256 → 64), a 3×3 convolution works on the thin tensor, and a second 1×1
# convolution expands back (64 → 256, the `expansion` of 4). Note 000 compares
# "3×3×64×64 + 3×3×64×64 = 73,728" for a `BasicBlock` with
# "1×1×256×64 + 3×3×64×64 + 1×1×64×256 = 69,632" for a bottleneck and concludes "fewer
# parameters with more depth". The two numbers are right, but they describe blocks of
# **different widths**: the bottleneck carries 256 channels for the price of a 64-channel basic
# block. A basic block on the same 256 channels would cost 16 times more. Let us count the
# convolution weights of all three (the batch normalizations add 2 parameters per channel on
# top).

# %%
def conv_weights(module: nn.Module) -> int:
    """Weights of the convolutions only, as the notes count them (no BatchNorm γ, β)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


blocks = {
    "BasicBlock 64 → 64": BasicBlock(64, 64),
    "BottleneckBlock 256 → 64 → 256": BottleneckBlock(256, 64),
    "BasicBlock 256 → 256": BasicBlock(256, 256),
}
by_hand = {
    "BasicBlock 64 → 64": 3 * 3 * 64 * 64 + 3 * 3 * 64 * 64,
    "BottleneckBlock 256 → 64 → 256": 1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256,
    "BasicBlock 256 → 256": 3 * 3 * 256 * 256 + 3 * 3 * 256 * 256,
}
print(f"{'block':32} {'conv weights':>13} {'by hand':>10} {'all params':>11}")
for name, b in blocks.items():
    print(f"{name:32} {conv_weights(b):>13,} {by_hand[name]:>10,} {count_params(b):>11,}")
    assert conv_weights(b) == by_hand[name]

bottleneck = blocks["BottleneckBlock 256 → 64 → 256"].eval()
x256 = torch.randn(BATCH, 256, SIDE, SIDE)
with torch.no_grad():
    diff = float((bottleneck(x256) - torch.relu(bottleneck.residual(x256)
                                                + bottleneck.shortcut(x256))).abs().max())
print(f"bottleneck: output {tuple(bottleneck(x256).shape)}, "
      f"max |block(x) - ReLU(F(x) + S(x))| = {diff:.2e}")
assert diff <= 1e-6

# %% [markdown]
# ## 4. When the shape changes, the shortcut must change it too
#
# The first block of every stage after the first halves the resolution (stride 2) and doubles
# the channels. Then $F(x)$ has a different shape from $x$ and the two **cannot be added**.
# The teaching code of note 001 gets this wrong: its `residual_block` only builds the adapter
# `self.residual` when `change_size=True` and then reads `self.change_size`, an attribute it
# never stores; with `change_size=False` on a stride-2 block, the sum `y += identity` fails.
# The shortcut must reshape $x$ whenever $F$ does: a 1×1 convolution with the same stride (a
# *projection*) or, without parameters, subsampling plus zero channels. Here is the failure
# and the fix.

# %%
down = BasicBlock(16, 32, stride=2, shortcut="B").eval()
x16 = torch.randn(BATCH, 16, 2 * SIDE, 2 * SIDE)
with torch.no_grad():
    F_down = down.residual(x16)
    S_down = down.shortcut(x16)
    try:
        F_down + x16  # what note 001 does when change_size=False
        added = True
    except RuntimeError as err:
        added = False
        print("F(x) + x fails:", str(err).splitlines()[0])
    y_down = down(x16)

print("x    ", tuple(x16.shape))
print("F(x) ", tuple(F_down.shape))
print("S(x) ", tuple(S_down.shape), "<- projection:", down.downsample[0], "+ BatchNorm2d")
print(f"max |block(x) - ReLU(F(x) + S(x))| = "
      f"{float((y_down - torch.relu(F_down + S_down)).abs().max()):.2e}")
assert not added and F_down.shape != x16.shape
assert S_down.shape == F_down.shape
assert float((y_down - torch.relu(F_down + S_down)).abs().max()) <= 1e-6

# %% [markdown]
# ### Options A, B and C (and "none")
#
# The paper (§3.3 and §4.1) compares three ways to build the shortcut:
#
# - **A** — *zero-padding*: take every second pixel and append channels of zeros. No
#   parameters at all; the CIFAR-10 networks of §4.2 use it, so that a ResNet and its plain
#   twin have exactly the same parameters.
# - **B** — a *projection* (1×1 convolution + batch normalization) only where the shape changes,
#   the identity everywhere else. This is torchvision's ImageNet layout.
# - **C** — a projection on **every** block, even where the identity would do.
# - **none** — no shortcut: the *plain* network the paper compares against.
#
# On ImageNet (ResNet-34, Table 3 of the paper) the top-1 errors were 25.03 % (A), 24.52 % (B)
# and 24.19 % (C): B helps a little, C's many extra parameters barely more, so the paper keeps
# B for the deep ImageNet models. First, what each option does with one block:

# %%
def describe(b: ResidualBlock) -> tuple[str, int]:
    """What the shortcut of ``b`` is, and its parameter count."""
    if not b.has_skip:
        return "no shortcut", 0
    if b.downsample is None:
        return "identity", 0
    parts = [type(m).__name__ for m in b.downsample.modules()
             if not isinstance(m, nn.Sequential)]
    return " + ".join(parts), count_params(b.downsample)


print(f"{'option':7} {'stride-2 block 16 → 32':30} {'params':>6}   "
      f"{'block 32 → 32':22} {'params':>6}")
for kind in ("none", "A", "B", "C"):
    text_r, extra_r = describe(BasicBlock(16, 32, stride=2, shortcut=kind))
    text_s, extra_s = describe(BasicBlock(32, 32, stride=1, shortcut=kind))
    print(f"{kind:7} {text_r:30} {extra_r:>6}   {text_s:22} {extra_s:>6}")

# Option A by hand: every second pixel of x, then 16 channels of zeros.
zero_pad = BasicBlock(16, 32, stride=2, shortcut="A").eval()
with torch.no_grad():
    S_a = zero_pad.shortcut(x16)
print("option A: S(x) =", tuple(S_a.shape), "= x[:, :, ::2, ::2] and 16 zero channels")
assert torch.equal(S_a[:, :16], x16[:, :, ::2, ::2])
assert float(S_a[:, 16:].abs().max()) == 0.0

# "none": the block is a plain pair of convolutions, output = ReLU(F(x)).
plain = BasicBlock(32, 32, shortcut="none").eval()
x32 = torch.randn(BATCH, 32, SIDE, SIDE)
with torch.no_grad():
    assert float((plain(x32) - torch.relu(plain.residual(x32))).abs().max()) <= 1e-6

# %% [markdown]
# Now whole networks: the CIFAR ResNet-20 (option A in the paper) and the ImageNet ResNet-18
# (option B in torchvision). A projection costs `in × out` weights for the 1×1 convolution plus
# `out × 2` for its batch normalization. We compute what each option should add from the
# blocks' own shapes and compare with the real parameter counts. The networks are built on
# PyTorch's `meta` device: shapes only, no memory and no random initialisation, so even
# ResNet-18 is counted instantly.

# %%
def projection_cost(b: ResidualBlock) -> int:
    """Parameters of a 1×1 conv + BN shortcut for block ``b``."""
    return b.in_channels * b.out_channels + 2 * b.out_channels


counts: dict[str, dict[str, int]] = {}
for name, classes in (("resnet20", 10), ("resnet18", 1000)):
    with torch.device("meta"):
        nets = {kind: rl.create_model(name, num_classes=classes, shortcut=kind)
                for kind in ("none", "A", "B", "C")}
    counts[name] = {kind: count_params(net) for kind, net in nets.items()}
    block_list = [m for m in nets["none"].modules() if isinstance(m, ResidualBlock)]
    reshaping = [b for b in block_list if b.stride != 1 or b.in_channels != b.out_channels]
    expected_b = sum(projection_cost(b) for b in reshaping)
    expected_c = sum(projection_cost(b) for b in block_list)
    base = counts[name]["none"]
    print(f"{name}: {len(block_list)} blocks, {len(reshaping)} change the shape")
    for kind in ("none", "A", "B", "C"):
        print(f"   option {kind:4}: {counts[name][kind]:>11,} parameters "
              f"(+{counts[name][kind] - base:,} over the plain network)")
    assert counts[name]["A"] == base
    assert counts[name]["B"] - base == expected_b
    assert counts[name]["C"] - base == expected_c

# torchvision's ResNet-18, the network of lesson 02
assert counts["resnet18"]["B"] == 11_689_512

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
titles = {"resnet20": "ResNet-20 (CIFAR-10)", "resnet18": "ResNet-18 (ImageNet)"}
for ax, (name, by_kind) in zip(axes, counts.items(), strict=True):
    kinds = ["A", "B", "C"]
    extra = [by_kind[k] - by_kind["none"] for k in kinds]
    bars = ax.bar(kinds, extra, color=["tab:green", "tab:blue", "tab:orange"])
    for bar, value in zip(bars, extra, strict=True):
        share = 100 * value / by_kind["none"]
        ax.annotate(f"+{value:,}\n({share:.1f} %)", (bar.get_x() + bar.get_width() / 2, value),
                    ha="center", va="bottom", fontsize=9, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_ylim(0, max(extra) * 1.3)
    ax.set_title(titles[name])
    ax.set_xlabel("shortcut option")
    ax.set_ylabel("parameters added to the plain network")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
fig.suptitle("What each shortcut option costs: A nothing, B only where the shape changes, "
             "C everywhere", fontsize=10)
fig.savefig(OUT / "shortcut-options.png", dpi=100)
plt.show()

# %% [markdown]
# ## 5. Two more traps in the notes' code
#
# **`identity = x` is a second name, not a copy.** The notes' blocks keep the input as
# `identity = x` and add it at the end. That is correct only as long as nothing modifies `x`
# in place before the sum. An `nn.ReLU(inplace=True)` applied to `x` itself (as a block that
# starts with an activation, a *pre-activation* block, would do) rewrites the tensor that
# `identity` points to, and the skip connection then carries ReLU(x) instead of x.
# `resnetlab` adds out of place (`out = out + S(x)`) and its pre-activation blocks use
# `ReLU(inplace=False)`, because their activated input also feeds the shortcut when that is a
# projection.

# %%
x_small = torch.randn(1, 4, 3, 3)
identity = x_small  # what the notes write
out = nn.ReLU(inplace=True)(x_small)  # an in-place activation of the block's input
print("negative values left in identity after the in-place ReLU:",
      int((identity < 0).sum()))
assert torch.equal(identity, out) and float(identity.min()) >= 0.0

# resnetlab's blocks never modify their input, in training or in evaluation mode.
for b in (BasicBlock(8, 8), BasicBlock(8, 16, stride=2, shortcut="A"), PreActBasicBlock(8, 8)):
    for training in (True, False):
        b.train(training)
        x_in = torch.randn(2, 8, 6, 6)
        before = x_in.clone()
        with torch.no_grad():
            b(x_in)
        assert torch.equal(x_in, before)
print("BasicBlock and PreActBasicBlock leave their input untouched")

# %% [markdown]
# **A bias before batch normalization is wasted.** Note 001's `conv_k_3` builds
# `nn.Conv2d(..., padding=1)` with PyTorch's default `bias=True` and puts a batch
# normalization right after it. Batch normalization subtracts the per-channel mean, so any
# constant the convolution adds per channel disappears: the bias is a parameter that can never
# change the output. That is why `resnetlab`'s convolutions use `bias=False`.

# %%
conv_bias = nn.Conv2d(8, 8, 3, padding=1, bias=True)
conv_plain = nn.Conv2d(8, 8, 3, padding=1, bias=False)
conv_plain.weight.data.copy_(conv_bias.weight.data)
nn.init.uniform_(conv_bias.bias, -3.0, 3.0)  # a large bias, to make the point
bn = nn.BatchNorm2d(8).train()  # training mode: normalise with the batch's own mean
x_b = torch.randn(4, 8, 6, 6)
with torch.no_grad():
    gap = float((bn(conv_bias(x_b)) - bn(conv_plain(x_b))).abs().max())
print(f"max difference with and without the conv bias, after BN: {gap:.1e}")
assert gap <= 1e-4

# %% [markdown]
# ## Summary
#
# - A residual block computes $\mathrm{ReLU}(F(x) + S(x))$; `resnetlab` exposes both branches
#   (`residual`, `shortcut`), and the sum matches the block's output to within $10^{-6}$.
# - A zero residual branch makes the block the identity: deep residual networks can start as
#   shallow ones.
# - The bottleneck gives a 256-channel block for about the parameters of a 64-channel basic
#   block; it is not "fewer parameters" at equal width.
# - When $F$ changes the shape, the shortcut must change it too: option A pads with zeros
#   (free), B projects only those blocks, C projects all of them.
# - `identity = x` is not a copy (beware of in-place operations), and a bias before batch
#   normalization is useless.
#
# Next lesson: a whole ResNet-18, layer by layer.
