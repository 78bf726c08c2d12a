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
# # 04 · Batch normalization
#
# Every layer of a network receives as input the output of the layer before it, and that
# output changes scale and offset as the weights move. **Batch normalization** (Ioffe &
# Szegedy 2015, arXiv:1502.03167) standardises each channel with the statistics of the current
# mini-batch and then lets the network choose its own scale and shift. It is what makes the
# 20–110-layer networks of the next lessons trainable from scratch: He et al. 2015 (§3.4) put
# a BatchNorm "right after each convolution and before activation".
#
# This lesson repeats the experiment of the course notes (note 004): a LeNet with sigmoid
# activations, trained with plain SGD at learning rate 1.0, with and without BatchNorm. You
# will
#
# 1. compute BatchNorm by hand and check it against PyTorch's layer;
# 2. see where the BatchNorm layers sit in the LeNet and what that makes of the convolution's
#    bias;
# 3. run resnetlab's `batchnorm` lab experiment: test accuracy after *every* SGD step, for
#    both networks and several learning rates;
# 4. fix the one real bug of the notes' code: evaluating in training mode.
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`, the embedded digits, 30 steps): about 10 s.
# Full mode (Fashion-MNIST, 1,000 steps per network and learning rate): about 10 minutes on
# a 2-core CPU with the 1,003-image test set of the course's subset (12 minutes measured on a
# busy shared machine), almost all of it in the lab experiment, which evaluates the whole
# test set after every step — with the official 10,000 test images expect about 40 minutes,
# or lower `ITERATIONS`.

# %% tags=["parameters"]
import os
from pathlib import Path

os.environ.setdefault("RESNETLAB_LANG", "en")
QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "04"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
BATCH_SIZE = 100  # the notes' batch size
LR_NOTES = 1.0  # the notes' learning rate: large for SGD
LRS = (1.0,) if QUICK else (0.1, 1.0, 3.0)  # learning rates compared in section 6
ITERATIONS = 30 if QUICK else 1000  # SGD steps per network and learning rate
DEMO_ITERATIONS = 20 if QUICK else 100  # training of the network used in section 7

# %% [markdown]
# ## 1. Setup
#
# Everything comes from resnetlab: the data (`rl.data.load`), the LeNet-5
# (`resnetlab.lab.lenet.lenet5`), one SGD step (`resnetlab.train.step.train_step`) and the
# lab experiment (`resnetlab.lab.run_experiment`).

# %%
import itertools

import matplotlib.pyplot as plt
import torch
from torch import nn

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.formulas import param_formula
from resnetlab.data import InMemoryLoader, normalize
from resnetlab.errors import ResnetlabError
from resnetlab.lab import run_experiment
from resnetlab.lab.lenet import lenet5
from resnetlab.train.step import train_step

# %matplotlib inline

torch.manual_seed(SEED)
torch.set_num_threads(1)  # LeNet's tensors are tiny: a second thread costs more than it saves
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)

# %% [markdown]
# ## 2. The data
#
# The notes use **Fashion-MNIST** (Xiao et al. 2017): 28×28 grey images of ten kinds of
# clothing. In full mode `rl.data.load` reads its IDX files from `DATA_DIR/FashionMNIST/raw`
# and downloads them there if they are missing (`download=True`). Without a connection it
# raises a one-line `ResnetlabError` that says what to do; we print it and fall back to the
# embedded digits. Quick mode always uses the embedded 8×8 digits, upsampled to 28×28 so that
# the same LeNet fits them.

# %%
if QUICK:
    bundle = rl.data.load("digits", image_size=28)
    data_root = None
else:
    try:
        data_root = DATA_DIR / "FashionMNIST"
        bundle = rl.data.load("fashion-mnist", root=data_root, download=True)
    except ResnetlabError as exc:
        print(exc)
        print("-> falling back to the embedded digits (upsampled to 28×28)")
        bundle = rl.data.load("digits", image_size=28)
        data_root = None
train_set, test_set = bundle.train, bundle.test
print(f"{bundle.name}: {len(train_set)} training and {len(test_set)} test images "
      f"of size {bundle.input_size}, {bundle.num_classes} classes")
assert bundle.input_size == (1, 28, 28) and bundle.num_classes == 10

fig, axes = plt.subplots(1, 8, figsize=(10, 1.8), layout="constrained")
for ax, image, label in zip(axes, train_set.images[:8], train_set.labels[:8], strict=True):
    ax.imshow(image[0], cmap="gray")
    ax.set_title(train_set.classes[int(label)], fontsize=8)
    ax.axis("off")
fig.savefig(OUT / "samples.png", dpi=100)
plt.show()

# %% [markdown]
# ## 3. BatchNorm by hand
#
# For a convolution's output $z$ (batch × channels × height × width), BatchNorm in
# **training mode** computes, for each channel $c$, the mean $\mu_c$ and the variance
# $\sigma_c^2$ over the batch *and* over all positions, then
#
# $$\mathrm{BN}(z)_c = \gamma_c \, \frac{z_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c ,$$
#
# with a learned scale $\gamma_c$ (starts at 1) and shift $\beta_c$ (starts at 0), and a small
# $\epsilon = 10^{-5}$ against division by zero. It also keeps **running statistics**
# (`running_mean`, `running_var`, updated as $0.9 \cdot \text{old} + 0.1 \cdot \text{batch}$)
# that replace $\mu_c, \sigma_c^2$ in **evaluation mode** — section 7 shows why that matters.
#
# One correction to the notes: they say that after the normalization "the data follow a
# standard normal distribution". They do not: per channel BatchNorm is an affine map
# $a z + b$, so it fixes the mean (0) and the variance (1) but leaves the *shape* of the
# distribution untouched — the skewness below is the same before and after.

# %%
x = normalize(train_set.images[:BATCH_SIZE], train_set.mean, train_set.std)
net_bn = lenet5(bundle.num_classes, 1, batchnorm=True, image_size=28)
conv, bn = net_bn[0], net_bn[1]
assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
with torch.no_grad():
    z = conv(x)  # 100 × 6 × 28 × 28
    out = bn(z)  # a fresh module is in training mode: it uses this batch's statistics
dims = (0, 2, 3)  # batch, height, width: everything except the channel
mean = z.mean(dim=dims, keepdim=True)
var = z.var(dim=dims, unbiased=False, keepdim=True)
gamma, beta = bn.weight.view(1, -1, 1, 1), bn.bias.view(1, -1, 1, 1)
by_hand = gamma * (z - mean) / torch.sqrt(var + bn.eps) + beta


def skewness(t: torch.Tensor) -> torch.Tensor:
    """Per-channel skewness: the third standardised moment (0 for a symmetric distribution)."""
    centred = t - t.mean(dim=dims, keepdim=True)
    return (centred**3).mean(dim=dims) / centred.pow(2).mean(dim=dims) ** 1.5


print("channel means before:", [f"{v:+.3f}" for v in mean.flatten().tolist()])
print("channel means after: ", [f"{v:+.3f}" for v in out.mean(dim=dims).tolist()])
print("channel variances after:", [f"{v:.4f}" for v in out.var(dim=dims, unbiased=False)])
print("skewness before:", [f"{v:+.3f}" for v in skewness(z).tolist()])
print("skewness after: ", [f"{v:+.3f}" for v in skewness(out).tolist()])
print(f"max |PyTorch - by hand| = {(out - by_hand).abs().max():.2e}")
assert (out - by_hand).abs().max() < 1e-5
assert out.mean(dim=dims).abs().max() < 1e-5
assert (out.var(dim=dims, unbiased=False) - 1).abs().max() < 1e-3
assert torch.allclose(skewness(out), skewness(z), atol=1e-3)
assert torch.allclose(bn.running_mean, 0.1 * mean.flatten(), atol=1e-6)

# %% [markdown]
# ## 4. The two LeNets
#
# `lenet5` builds the notes' network: 5×5 convolutions with 6 and 16 channels, 2×2 average
# pooling, dense layers of 120 and 84 units, sigmoid everywhere, Xavier initialisation. With
# `batchnorm=True` a BatchNorm follows every convolution and every hidden dense layer,
# **before** the sigmoid — the placement of Ioffe & Szegedy (§3.2) and of the notes'
# `LeNet_Norm`, so here the notes are right. Each BatchNorm adds two parameters per channel
# ($\gamma$ and $\beta$); its running statistics are buffers, not parameters.

# %%
net_plain = lenet5(bundle.num_classes, 1, batchnorm=False, image_size=28)
print(net_bn)
norms = [m for m in net_bn if isinstance(m, BATCHNORMS)]
for m in norms:
    print(f"{m}: {param_formula(m)}")
print(f"parameters: {count_params(net_plain):,} without BatchNorm, "
      f"{count_params(net_bn):,} with it")
assert count_params(net_bn) - count_params(net_plain) == 2 * (6 + 16 + 120 + 84)
assert all(isinstance(net_bn[i - 1], nn.Conv2d | nn.Linear)
           and isinstance(net_bn[i + 1], nn.Sigmoid)
           for i, m in enumerate(net_bn) if isinstance(m, BATCHNORMS))
assert [type(m) for m in net_bn if not isinstance(m, BATCHNORMS)] == [type(m) for m in net_plain]

# %% [markdown]
# The notes' layers keep `bias=True` in every convolution and dense layer that a BatchNorm
# follows. That bias is dead weight: BatchNorm subtracts the batch mean, which removes any
# constant added to a channel, so the bias has no effect on the output and gets a zero
# gradient ($\beta$ does its job). That is why ResNet's convolutions are built with
# `bias=False`. One backward pass shows it:

# %%
y = train_set.labels[:BATCH_SIZE]


def bias_to_weight_gradients(net: nn.Sequential) -> list[float]:
    """||dL/d bias|| / ||dL/d weight|| of every conv/linear layer except the classifier."""
    net.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    layers = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)][:-1]
    return [float(m.bias.grad.norm() / m.weight.grad.norm()) for m in layers]


ratios_bn, ratios_plain = bias_to_weight_gradients(net_bn), bias_to_weight_gradients(net_plain)
print("bias/weight gradient, with BatchNorm:   ", [f"{r:.1e}" for r in ratios_bn])
print("bias/weight gradient, without BatchNorm:", [f"{r:.1e}" for r in ratios_plain])
assert max(ratios_bn) < 1e-4
assert min(ratios_plain) > 1e-3

# %% [markdown]
# ## 5. The notes' experiment: SGD at learning rate 1.0
#
# `run_experiment("batchnorm", ...)` trains both LeNets with the same initial draw and the
# same batches (plain SGD, batch 100), and measures the test accuracy after **every** step,
# with the BatchNorm net in evaluation mode. It returns every number in `result.results`
# (also written to `results.json` with the lab's own figure). We run it once per learning
# rate of `LRS`; this section looks at the notes' learning rate, 1.0.
#
# The key fact to check: the BatchNorm net reaches 70 % test accuracy (on digits as on
# Fashion-MNIST) much sooner — we require at least twice as soon, or the plain net never
# getting there.

# %%
runs = {}
for lr in LRS:
    result, lab_dir = run_experiment(
        "batchnorm", out_dir=OUT / f"lab-lr{lr:g}", quick=QUICK, seed=SEED,
        data=bundle.name, data_dir=None if data_root is None else str(data_root),
        iterations=ITERATIONS, lr=lr, batch_size=BATCH_SIZE)
    runs[lr] = result.results
    print(f"learning rate {lr:g} ({lab_dir}):", *result.verdict, sep="\n  ")


def with_and_without(results: dict) -> tuple[dict, dict]:
    """The (BatchNorm, plain) curves of one run, picked by the `batchnorm` flag, not by name."""
    curves = list(results["models"].values())
    return (next(c for c in curves if c["batchnorm"]),
            next(c for c in curves if not c["batchnorm"]))


# %%
bn_curve, plain_curve = with_and_without(runs[LR_NOTES])
steps = range(1, ITERATIONS + 1)
fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for curve, label, color in ((bn_curve, "with BatchNorm", "tab:green"),
                            (plain_curve, "without BatchNorm", "tab:gray")):
    ax_acc.plot(steps, [100 * a for a in curve["test_accuracy"]], color=color, lw=1.2,
                label=label)
    ax_loss.plot(steps, curve["train_loss"], color=color, lw=1.2, label=label)
    first = curve["first_iteration_above_70"]
    if first is not None:
        ax_acc.plot(first, 100 * curve["test_accuracy"][first - 1], "s", color=color, mfc="none",
                    ms=8)
ax_acc.axhline(70, color="black", lw=0.7, ls=":")
ax_acc.set(xlabel="SGD step", ylabel="test accuracy (%)", ylim=(0, 100),
           title="test accuracy after every step (□: first above 70 %)")
ax_loss.set(xlabel="SGD step", ylabel="cross-entropy of the batch", title="training loss")
for ax in (ax_acc, ax_loss):
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"LeNet-5 (sigmoid) on {bundle.name}, SGD lr {LR_NOTES:g}, batch {BATCH_SIZE}")
fig.savefig(OUT / "batchnorm_lr1.png", dpi=100)
plt.show()

bn70, plain70 = bn_curve["first_iteration_above_70"], plain_curve["first_iteration_above_70"]
print(f"first step above 70 %: {bn70} with BatchNorm, {plain70 or 'never'} without "
      f"(within {ITERATIONS} steps)")
assert len(bn_curve["test_accuracy"]) == len(plain_curve["test_accuracy"]) == ITERATIONS
assert not bn_curve["diverged"]
assert bn70 is not None
assert plain70 is None or plain70 >= 2 * bn70, (bn70, plain70)

# %% [markdown]
# What the curves say: the sigmoid network without BatchNorm sits at chance (10 %) for its
# first steps — the signal reaching its deeper layers is badly scaled and its first gradients
# are tiny — and then climbs slowly. With BatchNorm every layer
# receives inputs of mean 0 and variance 1 from the first step, the sigmoids work in their
# useful range and the net leaves chance almost at once. On the 1,003-image Fashion-MNIST
# subset this lesson was written with, both nets end near the same test accuracy (about
# 80 %) although the BatchNorm net drives its training loss almost to zero: with so few
# training images the data, not the optimiser, limit them. (In the notes the plain net
# waited more than 1,500 steps at 10 %; the notes initialise with PyTorch's default rather
# than Xavier and do not shuffle their batches, which changes *when* it escapes, not
# *whether*.)
#
# ## 6. Learning-rate comparison
#
# Ioffe & Szegedy (§3.3) write that BatchNorm "enables higher learning rates". The same runs
# at other learning rates show the other side of that claim: how much does the choice of the
# learning rate matter for each network?

# %%
colors = {0.1: "tab:blue", 1.0: "tab:green", 3.0: "tab:red"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
print(f"{'lr':>5} | {'with BatchNorm: >70 % at, final':>32} | {'without: >70 % at, final':>26}")
for lr in LRS:
    bn_c, plain_c = with_and_without(runs[lr])
    for ax, curve in zip(axes, (bn_c, plain_c), strict=True):
        ax.plot(steps, [100 * a for a in curve["test_accuracy"]], lw=1, alpha=0.85,
                color=colors.get(lr, "tab:purple"), label=f"lr {lr:g}")
    print(f"{lr:>5g} | {bn_c['first_iteration_above_70'] or 'never':>20}, "
          f"{100 * bn_c['final_test_accuracy']:6.1f} % | "
          f"{plain_c['first_iteration_above_70'] or 'never':>14}, "
          f"{100 * plain_c['final_test_accuracy']:6.1f} %")
for ax, title in zip(axes, ("with BatchNorm", "without BatchNorm"), strict=True):
    ax.axhline(70, color="black", lw=0.7, ls=":")
    ax.set(xlabel="SGD step", title=title, ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(title="SGD learning rate")
axes[0].set_ylabel("test accuracy (%)")
axes[1].tick_params(labelleft=True)
fig.suptitle(f"LeNet-5 (sigmoid) on {bundle.name}: the same runs at several learning rates")
fig.savefig(OUT / "batchnorm_learning_rates.png", dpi=100)
plt.show()

firsts = [with_and_without(runs[lr])[0]["first_iteration_above_70"] for lr in LRS]
for lr in LRS:
    bn_c, plain_c = with_and_without(runs[lr])
    bn70, plain70 = bn_c["first_iteration_above_70"], plain_c["first_iteration_above_70"]
    assert bn70 is not None, lr
    assert plain70 is None or plain70 >= 2 * bn70, (lr, bn70, plain70)
assert max(firsts) <= 3 * min(firsts), firsts

# %% [markdown]
# With BatchNorm the learning rate barely matters: the network passes 70 % after about the
# same number of steps at 0.1, 1.0 and 3.0. Without it the learning rate decides everything:
# on Fashion-MNIST, at 0.1 the plain sigmoid net sits at chance for about 400 steps and is
# still below 70 % after a thousand; the notes' 1.0 is the fastest of the three, and 3.0 is
# slower again — the plain net needs a well-tuned rate, the BatchNorm net does not. With
# BatchNorm a layer's output no longer depends on the scale of its weights (scaling $W$
# scales $\mu$ and $\sigma$ by the same factor), so a large step cannot blow up the
# activations that reach the sigmoids, and every layer starts in a well-scaled regime
# whatever the learning rate.
#
# ## 7. Training mode vs evaluation mode: the notes' evaluation bug
#
# The notes measure the test accuracy with the network still in **training mode** (they never
# call `model.eval()`). Then BatchNorm normalises each test batch with *that batch's*
# statistics, which has three consequences:
#
# - the prediction for an image depends on the other 99 images of its batch;
# - every test batch overwrites the running statistics: test data leaks into the model;
# - one image alone cannot be classified at all (a dense BatchNorm needs more than one value
#   per channel).
#
# The correct way: `model.eval()` (BatchNorm uses its running statistics; wrap it in
# `torch.no_grad()`) to evaluate, `model.train()` to go on training — what the lab does after
# every step. We train a BatchNorm LeNet for a few steps and check the three facts.

# %%
torch.manual_seed(SEED)
model = lenet5(bundle.num_classes, 1, batchnorm=True, image_size=28)
optimizer = torch.optim.SGD(model.parameters(), lr=LR_NOTES)
loader = InMemoryLoader(train_set, BATCH_SIZE, shuffle=True, drop_last=True, seed=SEED)
batches = (batch for epoch in itertools.count() for batch in loader.iter_from(epoch))
for xb, yb in itertools.islice(batches, DEMO_ITERATIONS):
    train_step(model, optimizer, xb, yb)

test_x = normalize(test_set.images, test_set.mean, test_set.std)
test_y = test_set.labels
batch_a = test_x[:BATCH_SIZE]  # image 0 with 99 companions...
batch_b = torch.cat([test_x[:1], test_x[-(BATCH_SIZE - 1):]])  # ...and with 99 others


def accuracy(net: nn.Module) -> float:
    """Top-1 accuracy on the test set, in batches of BATCH_SIZE as the notes do."""
    with torch.no_grad():
        hits = sum(int((net(xs).argmax(1) == ys).sum())
                   for xs, ys in zip(test_x.split(BATCH_SIZE), test_y.split(BATCH_SIZE),
                                     strict=True))
    return hits / len(test_y)


model.eval()  # the correct way
with torch.no_grad():
    eval_a, eval_b = model(batch_a)[0], model(batch_b)[0]
eval_accuracy = accuracy(model)
before = model[1].running_mean.clone()

model.train()  # the notes' way
with torch.no_grad():
    train_a, train_b = model(batch_a)[0], model(batch_b)[0]
train_accuracy = accuracy(model)
leaked = float((model[1].running_mean - before).abs().max())
try:
    with torch.no_grad():
        model(test_x[:1])
    single_image_error = None
except ValueError as exc:
    single_image_error = str(exc)

print(f"eval mode:  image 0 gets the same logits in both batches "
      f"(max difference {(eval_a - eval_b).abs().max():.1e})")
print(f"train mode: image 0's logits change with its companions "
      f"(max difference {(train_a - train_b).abs().max():.2f})")
print(f"train mode: evaluating moved the first BatchNorm's running mean by up to {leaked:.1e}")
print(f"train mode, one image alone: ValueError: {single_image_error}")
print(f"test accuracy after {DEMO_ITERATIONS} steps: {100 * eval_accuracy:.1f} % in eval mode, "
      f"{100 * train_accuracy:.1f} % in train mode (the notes' number)")
assert torch.allclose(eval_a, eval_b, atol=1e-5)
assert (train_a - train_b).abs().max() > 1e-3
assert leaked > 0
assert single_image_error is not None

# %% [markdown]
# The two accuracies are often close — batches of 100 have statistics near those of the
# population — which is why the bug goes unnoticed; but a number that depends on how the test
# set is cut into batches, and a model that changes while it is being measured, are not an
# evaluation. (Early in training the eval-mode number can be the lower one: the running
# statistics are an average with momentum 0.1, so they lag behind for the first few dozen
# steps.)
#
# ## Summary
#
# - BatchNorm standardises each channel over the batch (and the positions), then rescales it
#   with learned $\gamma, \beta$; it fixes mean and variance, not the shape of the
#   distribution.
# - It goes between the convolution (or dense layer) and the activation; the layer before it
#   needs no bias.
# - On the notes' sigmoid LeNet it lets training start at once and makes the learning rate
#   far less critical.
# - Evaluate with `model.eval()`: in training mode a BatchNorm network's predictions depend
#   on the batch and its running statistics absorb the test data.
#
# **To try:** put the BatchNorm *after* the sigmoid (the other habit the notes mention) by
# editing a copy of `lenet5`; train at a learning rate of 10; or evaluate the trained model
# in training mode with batches of 2 and see the accuracy collapse.
