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
# # 02 · Anatomy of ResNet-18
#
# Note 002 of the course dissects ResNet-18 (He et al. 2015, Table 1) layer by layer: a table
# with every layer's output shape and parameter count, the calculation behind each count, and
# pictures of the feature maps around one residual sum. We rebuild all of it with
# `resnetlab` and check every number:
#
# 1. the per-layer table (`rl.summary`), with the calculation column of the note, and the
#    total of **11,689,512** parameters recomputed from the formulas;
# 2. where those parameters live (spoiler: almost three quarters in the last stage);
# 3. one image through the network: the feature maps of every stage, 64×56×56 → 512×7×7;
# 4. the residual sum of block `layer2.0`, where the shape changes: $x$, $F(x)$, $S(x)$,
#    $F(x)+S(x)$ and the output, checked to $10^{-6}$;
# 5. a trap when you capture feature maps with hooks, as the note does.
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`): a few seconds, with an embedded 8×8 digit
# upscaled to 64×64 as the image. Full mode: about half a minute on a laptop CPU, with a
# real CIFAR-10 image (`DATA_DIR/cifar-10-batches-py`, downloaded if missing) and, when they
# can be downloaded (45 MB, once), torchvision's ImageNet weights; offline it says so and uses
# the embedded digits and random weights.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "02"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "en")

WEIGHTS = "IMAGENET1K_V1"  # full mode: trained weights (a published tag, a run dir, a file)
SIDE = 64 if QUICK else 224  # side of the image we feed (the table always uses 224×224)
IMAGE_INDEX = 0  # which test image goes through the network
BLOCK = "layer2.0"  # the block whose residual sum we look at: its shape changes
CHANNELS = 3  # how many channels of that block to draw

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.features import feature_maps
from resnetlab.analysis.formulas import evaluate_formula
from resnetlab.analysis.render import channel_grid, image_for_display, plot_anatomy, shape_text
from resnetlab.analysis.residual import block_input, dissect_block, get_block
from resnetlab.errors import ResnetlabError

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. The table of note 002
#
# ResNet-18 has a **stem** (a 7×7 convolution with stride 2, batch normalization, ReLU and a
# 3×3 max-pooling with stride 2), four **stages** of two `BasicBlock`s each (64, 128, 256 and
# 512 channels; stages 2–4 start with stride 2), a global average pooling and a fully
# connected layer to the 1000 ImageNet classes.
#
# `rl.summary` runs one 224×224 input through the network and writes one row per layer call,
# numbered as torchsummary numbers them (the numbering of the note): `Conv2d-1` … `Linear-68`.
# After the rows of a block's layers comes a row for the block itself, e.g. `BasicBlock-11`,
# with **0** parameters of its own (its layers are the rows above). The ReLU of a block appears
# twice because the block calls it twice. `table(formula=True)` adds the note's "Calculation"
# column: a convolution has `out × in × kh × kw` weights (no bias: a batch normalization
# follows), a batch normalization `C × 2` (its scale γ and shift β; the running mean and
# variance are statistics, not parameters), the final linear layer `512 × 1000 + 1000`
# (weights plus biases).
#
# Counting needs shapes only, so we build the network on PyTorch's `meta` device: no memory
# for the weights and no computation, the table appears at once.

# %%
with torch.device("meta"):
    arch = rl.create_model("resnet18")  # shapes only: enough to count and to trace shapes
table = rl.summary(arch, (1, 3, 224, 224), device="meta")
print(table.table(formula=True))

# %%
from_formulas = sum(evaluate_formula(row.formula) for row in table.rows if row.formula)
labels = [row.label for row in table.rows]
print(f"rows: {len(table.rows)} ({labels[0]} … {labels[10]} … {labels[-1]})")
print(f"sum of the Calculation column: {from_formulas:,}")
print(f"parameters of the model:       {count_params(arch):,}")
assert table.total_params == 11_689_512 == count_params(arch)
assert from_formulas == table.total_params
assert all(evaluate_formula(r.formula) == r.params for r in table.rows if r.formula)
assert (len(table.rows), labels[0], labels[10], labels[-1]) == (68, "Conv2d-1", "BasicBlock-11",
                                                                  "Linear-68")

# %% [markdown]
# ## 2. Where the parameters live
#
# Adding the rows stage by stage shows something the long table hides: the parameters are
# not spread evenly. A 3×3 convolution costs $9 \cdot C_{in} \cdot C_{out}$, and the channels
# double at every stage while the maps shrink. So the last stage, working on tiny 7×7 maps,
# holds most of the weights, while the early stages, on large maps, hold few weights but do
# much of the computation.

# %%
def group_of(name: str) -> str:
    """The part of the network a row belongs to: stem, layer1..layer4 or head."""
    top = name.split(".")[0]
    return top if top.startswith("layer") else ("head" if top in ("avgpool", "fc") else "stem")


groups = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
params_by_group = {g: sum(r.params for r in table.rows if group_of(r.name) == g) for g in groups}
macs_by_group = {g: sum(r.macs for r in table.rows if group_of(r.name) == g) for g in groups}
for g in groups:
    share = 100 * params_by_group[g] / table.total_params
    print(f"{g:7} {params_by_group[g]:>10,} parameters ({share:5.1f} %)   "
          f"{macs_by_group[g] / 1e6:7.1f} M multiply-accumulates")
assert sum(params_by_group.values()) == table.total_params
assert max(params_by_group, key=params_by_group.get) == "layer4"

fig, (ax_p, ax_m) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_p.bar(groups, [params_by_group[g] / 1e6 for g in groups], color="tab:blue")
ax_p.set_ylabel("parameters (millions)")
ax_p.set_title("Parameters per part of ResNet-18")
ax_m.bar(groups, [macs_by_group[g] / 1e6 for g in groups], color="tab:orange")
ax_m.set_ylabel("multiply-accumulates (millions)")
ax_m.set_title("Computation per part (224×224 input)")
fig.savefig(OUT / "params-per-stage.png", dpi=100)
plt.show()

# %% [markdown]
# ## 3. One image through the network
#
# Now a real input. In quick mode it is a digit of the embedded 8×8 set, upscaled to 64×64 to
# keep the run short; in full mode a CIFAR-10 test image (32×32) upscaled to 224×224, the size
# ResNet-18 was designed for. With trained weights (full mode, if they can be downloaded) the
# image is normalised with the statistics the weights were trained with; with random weights,
# with those of its own dataset.

# %%
model, stats, trained = rl.create_model("resnet18").eval(), None, False
source = "digits"
if QUICK:
    bundle = rl.data.load("digits")
else:
    try:
        bundle = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
        source = "CIFAR-10"
    except ResnetlabError as err:
        print(err)
        print("-> using the embedded digits instead")
        bundle = rl.data.load("digits")
    try:
        model, meta = rl.load_model(WEIGHTS, "resnet18")
        stats, trained = (meta["mean"], meta["std"]), True
    except ResnetlabError as err:
        print(err)
        print("-> keeping the randomly initialised ResNet-18")

test = bundle.test
raw = test.images[IMAGE_INDEX]
label = test.classes[int(test.labels[IMAGE_INDEX])]
if raw.shape[0] == 1:  # a grey digit: the same plane on the three RGB channels
    raw = raw.expand(3, -1, -1)
pixels = rl.data.fit(raw, (SIDE, SIDE))
mean, std = stats if stats is not None else (test.mean, test.std)
if len(mean) == 1:  # grey statistics: the same value for the three channels
    mean, std = mean * 3, std * 3
x = rl.data.normalize(pixels[None], mean, std)
state = "trained weights" if trained else "random weights"
print(f"image: {source} test image #{IMAGE_INDEX} (class '{label}'), "
      f"{tuple(raw.shape)} -> {tuple(x.shape)}; ResNet-18 with {state}")

# %%
def stage_shapes(side: int) -> list[tuple[int, int, int]]:
    """Stem: side / 4 (conv stride 2, max-pool stride 2); layer1 keeps it, then each stage
    halves it."""
    return [(64, side // 4, side // 4)] + [(c, side // s, side // s)
                                            for c, s in ((64, 4), (128, 8), (256, 16), (512, 32))]


maps = feature_maps(model, x)
for fm in maps:
    st = fm.stats()
    print(f"{fm.name:7} {shape_text(fm.tensor):>10}   mean {st['mean']:6.3f}   "
          f"zeros {100 * st['zero_fraction']:4.1f} %")

# The 224×224 shapes read from the table: the max-pool row and each stage's last block row.
from_table = [next(r.output_shape[1:] for r in table.rows if r.name == "maxpool")] + [
    next(r.output_shape[1:] for r in table.rows if r.name == f"layer{i}.1") for i in range(1, 5)]
print("224×224 input, from the table:", " → ".join("×".join(map(str, s)) for s in from_table))
assert from_table == stage_shapes(224) == [(64, 56, 56), (64, 56, 56), (128, 28, 28),
                                           (256, 14, 14), (512, 7, 7)]
assert [fm.shape for fm in maps] == stage_shapes(SIDE)

fig, axes = plt.subplots(1, len(maps) + 1, figsize=(17, 3.9), layout="constrained")
axes[0].imshow(image_for_display(pixels))
axes[0].set_title(f"input {shape_text(pixels)}\n{source}: '{label}'", fontsize=10)
for ax, fm in zip(axes[1:], maps, strict=True):
    ax.imshow(channel_grid(fm.tensor, count=16, columns=4))
    ax.set_title(f"{fm.name}: {shape_text(fm.tensor)}\n(first 16 channels)", fontsize=10)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Feature maps of ResNet-18 ({state}): from layer2 on, each stage halves the "
             "maps' side and doubles the channels", fontsize=11)
fig.savefig(OUT / "feature-maps.png", dpi=100)
plt.show()

# %% [markdown]
# ## 4. The residual sum of `layer2.0`
#
# The first block of the second stage is the interesting one: it receives 64 maps of 56×56 and
# returns 128 maps of 28×28 (for a 224×224 image; 16×16 and 8×8 in quick mode). Its residual
# branch $F$ does this with a stride-2 convolution; its shortcut $S$ cannot be the identity, so
# it is a **projection**: a 1×1 convolution with stride 2 and a batch normalization (option B,
# lesson 01). We capture the block's input inside the network, compute both branches, their
# sum and the ReLU of the sum, and compare with what the block returned inside the whole
# forward pass, like the "manual sum versus ADD" comparison of note 002 (its figures 2 and 3).
# The colour scale is shared by all panels.

# %%
block = get_block(model, BLOCK)
inside: list[torch.Tensor] = []
hook = block.register_forward_hook(lambda mod, args, out: inside.append(out.detach().clone()))
with torch.no_grad():
    model(x)
hook.remove()

x_block = block_input(model, block, x)
anatomy = dissect_block(block, x_block)
by_hand = torch.relu(anatomy.residual + anatomy.shortcut)
ratio = float(anatomy.residual.norm() / anatomy.shortcut.norm())
print(f"x {shape_text(anatomy.x)}  F(x) {shape_text(anatomy.residual)}  "
      f"S(x) {shape_text(anatomy.shortcut)}  output {shape_text(anatomy.output)}")
print(f"shortcut: {block.downsample[0]} + BatchNorm2d")
print(f"max |block(x) - ReLU(F(x) + S(x))|            = {anatomy.max_abs_diff:.1e}")
print(f"max |output inside the network - ReLU(F + S)| = "
      f"{float((inside[0] - by_hand).abs().max()):.1e}")
print(f"||F(x)|| / ||S(x)|| = {ratio:.2f}")
assert anatomy.max_abs_diff <= 1e-6
assert float((inside[0] - by_hand).abs().max()) <= 1e-6
assert tuple(anatomy.x.shape[1:]) == stage_shapes(SIDE)[1]
f_shape, s_shape = tuple(anatomy.residual.shape[1:]), tuple(anatomy.shortcut.shape[1:])
assert f_shape == s_shape == stage_shapes(SIDE)[2]

fig = plot_anatomy(anatomy, CHANNELS, f"ResNet-18 ({state}), block {BLOCK}: "
                   f"{source} image '{label}'")
fig.savefig(OUT / "residual-sum.png", dpi=100)
display(fig)

# %% [markdown]
# ## 5. A trap: hooks and in-place sums
#
# Note 002 draws $F(x)$ and the sum from feature maps taken out of a torchvision ResNet-18.
# The usual way to take them out is a forward hook on a layer, e.g. on `bn2` for $F(x)$. But a
# torchvision-style block, like note 000's, ends with `out += identity` and
# `out = self.relu(out)`, both **in place**. The hook stores the tensor `bn2` returned, not a
# copy, and the in-place sum and ReLU then overwrite it: what was saved as "$F(x)$" is in fact
# the block's output. The forward itself is correct; only the captured picture is wrong. Either
# clone inside the hook, or ask the block for its branches as `resnetlab` does
# (`block.residual(x)`), and add out of place.

# %%
def notes_forward(b, x_in):
    """The forward of note 000's BasicBlock (in-place sum and ReLU), on resnetlab's layers."""
    identity = b.downsample(x_in)
    out = b.relu(b.bn1(b.conv1(x_in)))
    out = b.bn2(b.conv2(out))
    out += identity
    return b.relu(out)


saved: list[torch.Tensor] = []
hook = block.bn2.register_forward_hook(lambda mod, args, out: saved.append(out))  # no clone
with torch.no_grad():
    y_notes = notes_forward(block, x_block)
    y_resnetlab = block(x_block)
hook.remove()
captured_notes, captured_resnetlab = saved
print(f"notes' forward:   max |output - ReLU(F + S)| = "
      f"{float((y_notes - by_hand).abs().max()):.1e}  (the forward is right)")
print(f"notes' forward:   max |'F(x)' from the hook - F(x)| = "
      f"{float((captured_notes - anatomy.residual).abs().max()):.2f}  (the picture is wrong)")
print(f"resnetlab block:  max |'F(x)' from the hook - F(x)| = "
      f"{float((captured_resnetlab - anatomy.residual).abs().max()):.1e}")
assert float((y_notes - by_hand).abs().max()) <= 1e-6
assert captured_notes is y_notes and float((captured_notes - anatomy.residual).abs().max()) > 1e-3
assert float((captured_resnetlab - anatomy.residual).abs().max()) <= 1e-6

# %% [markdown]
# ## Summary
#
# - ResNet-18 has 68 rows in note 002's table and **11,689,512** parameters; the calculation
#   column (`out × in × kh × kw`, `C × 2`, `512 × 1000 + 1000`) adds up to exactly that.
# - About 72 % of the parameters are in the last stage (`layer4`); the computation is spread
#   much more evenly, because early layers work on large maps.
# - The maps go from 64×56×56 after the stem to 512×7×7 after `layer4`: half the side and
#   twice the channels per stage.
# - In `layer2.0` the shortcut is a 1×1 projection with stride 2, and the block's output is
#   exactly ReLU(F(x) + S(x)), to $10^{-6}$.
# - Capture feature maps with copies: in-place operations overwrite what a hook saved.
#
# Next lesson: we train a deeper residual network, ResNet-56, on CIFAR-10.
