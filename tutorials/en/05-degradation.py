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
# # 05 · Degradation and gradient flow
#
# Why can we not simply stack more layers? He et al. 2015 (arXiv:1512.03385, §4.1 and
# Figure 6) observed that on CIFAR-10 a 56-layer *plain* network — convolutions, BatchNorm and
# ReLU, no shortcuts — ends with a **higher training error** than a 20-layer one. They call it
# the **degradation problem**: it is not overfitting (the training error is the worse one), it
# is a difficulty of optimisation. The same depths with residual connections do not degrade.
#
# The course notes (notes 003 and 004) explain the problem as a **vanishing gradient**. The
# paper says otherwise (§4.1): with BatchNorm the plain nets' gradients "exhibit healthy
# norms", so it finds the vanishing gradient "unlikely" to be the cause. In this lesson you
# measure both things with resnetlab's lab:
#
# 1. plain and residual networks of the same depth: same layers, same parameters;
# 2. **gradient flow**: the gradient norm of every layer, at initialisation and after a few
#    SGD steps (`resnetlab lab gradient-flow`, `resnetlab.analysis.gradients.gradient_norms`);
# 3. **degradation**: training error of plain-20/56 and ResNet-20/56 trained with the same
#    recipe for the same number of iterations (`resnetlab lab degradation`).
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`, the embedded digits, one SGD step and 4
# training iterations): about 12 s; it checks that everything runs and measures the
# gradients, but trains far too little to show degradation. Full mode (CIFAR-10): about
# 15–20 minutes on a 2-core laptop CPU — 3 to 7 minutes of gradient measurements (depths 20,
# 56 and 110) and a 12-minute training budget for the four networks.

# %% tags=["parameters"]
import os
from pathlib import Path

os.environ.setdefault("RESNETLAB_LANG", "en")
QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "05"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
DEPTHS = (20, 56) if QUICK else (20, 56, 110)  # 6n + 2 layers
GRAD_STEPS = 1 if QUICK else 20  # SGD steps between the two gradient measurements
BUDGET_MINUTES = 12  # wall-clock budget of the degradation experiment (full mode)
DEG_ITERATIONS = 4 if QUICK else None  # None: as many iterations as the budget allows

# %% [markdown]
# ## 1. Setup

# %%
import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.gradients import gradient_norms, main_path_convs
from resnetlab.data import normalize
from resnetlab.errors import ResnetlabError
from resnetlab.lab import run_experiment
from resnetlab.lab.plotting import depth_color
from resnetlab.models.blocks import ResidualBlock

# %matplotlib inline

torch.manual_seed(SEED)

# %% [markdown]
# ## 2. Plain and residual networks of the same depth
#
# The CIFAR networks of the paper (§4.2) have $6n+2$ weighted layers: a 3×3 stem
# convolution, three stages of $n$ blocks with two 3×3 convolutions each (16, 32 and 64
# channels, on 32×32, 16×16 and 8×8 maps), and a dense classifier. `plainN` and `resnetN`
# are built from the *same* blocks; the only difference is the addition $F(x) + x$. Where a
# stage halves the resolution and doubles the channels, the shortcut is the paper's option A:
# subsample and pad the new channels with zeros, which has no parameters. So the two
# networks have exactly the same parameters — a comparison of the shortcut alone.

# %%
PAPER_PARAMS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}  # He et al., Table 6
print(f"{'depth':>5} | {'plain params':>12} | {'ResNet params':>13} | {'convs':>5} | blocks")
for depth in DEPTHS:
    plain_net, res_net = rl.create_model(f"plain{depth}"), rl.create_model(f"resnet{depth}")
    blocks = [m for m in res_net.modules() if isinstance(m, ResidualBlock)]
    convs = main_path_convs(res_net)
    print(f"{depth:>5} | {count_params(plain_net):>12,} | {count_params(res_net):>13,} | "
          f"{len(convs):>5} | {len(blocks)}")
    assert count_params(plain_net) == count_params(res_net)
    assert len(convs) == len(main_path_convs(plain_net)) == depth - 1
    assert len(blocks) == 3 * (depth - 2) // 6
    assert float(f"{count_params(res_net):.2g}") == PAPER_PARAMS[depth]

# %% [markdown]
# $6n+2$ layers are $6n+1$ convolutions plus the classifier, hence `depth - 1` main-path
# convolutions, and $3n$ blocks; the counts match the paper's Table 6 (0.27M parameters for
# 20 layers, 0.85M for 56, 1.7M for 110) to the two significant digits it prints.
#
# ## 3. The data
#
# Full mode: CIFAR-10, read from `DATA_DIR/cifar-10-batches-py` and downloaded there if it is
# missing (`download=True`, about 170 MB). Without a connection `rl.data.load` raises a
# one-line `ResnetlabError` that says what to do; we print it and fall back to the embedded
# digits. Quick mode uses the embedded 8×8 digits.

# %%
if QUICK:
    data_name, data_root = "digits", None
else:
    try:
        data_root = DATA_DIR / "cifar-10-batches-py"
        rl.data.load("cifar10", root=data_root, download=True)
        data_name = "cifar10"
    except ResnetlabError as exc:
        print(exc)
        print("-> falling back to the embedded digits")
        data_name, data_root = "digits", None
lab_data = {"data": data_name, "data_dir": None if data_root is None else str(data_root)}
print(lab_data)

# %% [markdown]
# ## 4. Gradient flow
#
# `run_experiment("gradient-flow", ...)` builds plain and residual networks of every depth
# with the same seed, takes one fixed batch and records, with BatchNorm in **training mode**
# (as during training):
#
# - the L2 norm of the gradient of every main-path convolution's weights, $\|\partial L /
#   \partial W\|$, from the input side (layer 1) to the output side;
# - the same after `GRAD_STEPS` SGD steps (learning rate 0.1, momentum 0.9, the paper's
#   optimiser).
#
# If the gradient vanished toward the input, the curves would fall from right to left. The
# number to watch is the ratio *first conv / last conv*: 1 means a perfectly even flow.

# %%
# One thread, as docs/lab.md runs it: on a small CPU two threads mostly wait for each other.
gf_result, gf_dir = run_experiment("gradient-flow", out_dir=OUT / "gradient-flow", quick=QUICK,
                                   seed=SEED, threads=1, depths=DEPTHS, steps=GRAD_STEPS,
                                   **lab_data)
print(*gf_result.verdict, sep="\n")
gf = gf_result.results
nets = {(n["plain"], n["depth"]): n for n in gf["networks"].values()}

# %%
STEPS_TEXT = f"{GRAD_STEPS} SGD step{'s' if GRAD_STEPS != 1 else ''}"
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
for ax, phase, title in ((axes[0], "init", "at initialisation"),
                         (axes[1], "after", f"after {STEPS_TEXT}")):
    for (plain, depth), net in sorted(nets.items()):
        norms = net[phase]["conv_grad_norms"]
        ax.plot(range(1, len(norms) + 1), norms, color=depth_color(depth), lw=1.4,
                ls="--" if plain else "-", label=f"{'plain' if plain else 'ResNet'}-{depth}")
    ax.set(yscale="log", xlabel="conv layer (1 = next to the input)",
           ylabel="||dL/dW|| of the layer", title=f"weight gradients {title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2, title="dashed: plain, solid: residual", title_fontsize=8)
fig.suptitle(f"Gradient flow on a {gf['data']} batch of {gf['batch_size']} "
             "(BatchNorm in training mode)")
fig.savefig(OUT / "gradient_flow.png", dpi=100)
plt.show()

# %%
plain56, res56 = nets[(True, 56)], nets[(False, 56)]
for (plain, depth), net in nets.items():
    print(f"{'plain' if plain else 'ResNet'}-{depth}: first/last = "
          f"{net['first_last_ratio_init']:.3g} at init, "
          f"{net['first_last_ratio_after']:.3g} after {STEPS_TEXT}")
    assert len(net["init"]["conv_grad_norms"]) == len(net["after"]["conv_grad_norms"]) == depth - 1
assert plain56["first_last_ratio_init"] > 30 * res56["first_last_ratio_init"]
assert res56["first_last_ratio_init"] < 100
assert plain56["first_last_ratio_after"] < plain56["first_last_ratio_init"] / 1000
assert plain56["first_last_ratio_after"] < res56["first_last_ratio_after"]

# %% [markdown]
# What the measurement says:
#
# - **At initialisation the plain nets' gradients do not vanish — they explode toward the
#   input.** Each plain conv-BN-ReLU layer multiplies the backward signal by a factor a little
#   above 1, so over 55 layers the first convolution of plain-56 receives thousands of times
#   the gradient of the last one (Yang et al. 2019, "A Mean Field Theory of Batch
#   Normalization", arXiv:1902.08129, describe this explosion in deep BatchNorm networks).
#   The residual nets stay within about one order of magnitude: in a block
#   $y = x + F(x)$ the backward signal is $g\,(1 + \partial F/\partial x)$ — a sum with an
#   identity path, not a product of factors.
# - **After a few steps the picture flips.** Those huge first gradients make the first
#   weights grow; a convolution followed by BatchNorm computes the same thing whatever the
#   scale of its weights, so its gradient shrinks as $1/\|W\|$. The plain net's first layers
#   end up with gradients *smaller* than its last ones — after the 20 steps of full mode by
#   more than an order of magnitude for plain-56 and by more than six for plain-110 — which
#   is what a "vanishing gradient" plot shows, while the residual nets stay within one or two
#   orders of magnitude.
#
# So the notes are right that deep plain nets have a gradient problem and that residual
# connections fix it, but the problem is not the one they describe: with BatchNorm (which
# the notes' own ResNet uses) the gradients start by exploding, and the first layers then
# stall. In full mode the 110-layer curves make both effects much larger.
#
# ### The same measurement by hand
#
# The lab's numbers come from `resnetlab.analysis.gradients.gradient_norms(model, x, y)`:
# one cross-entropy forward and backward pass on a batch, every main-path convolution's
# weight-gradient norm (shortcut projections left out, so plain and residual nets list the
# same layers). Calling it on the same freshly seeded networks and the same batch reproduces
# the lab's values at initialisation.

# %%
bundle = rl.data.load(data_name, root=data_root, image_size=None if QUICK else 32)
train = bundle.train
xb = normalize(train.images[:gf["batch_size"]], train.mean, train.std)
yb = train.labels[:gf["batch_size"]]
for name, net in (("plain56", plain56), ("resnet56", res56)):
    torch.manual_seed(SEED)
    model = rl.create_model(name, num_classes=bundle.num_classes, in_chans=train.input_size[0])
    report = gradient_norms(model.train(), xb, yb)
    print(f"{name}: loss {report.loss:.3f}, first conv {report.conv_grad_norms[0]:.4g} "
          f"({report.conv_names[0]}), last conv {report.conv_grad_norms[-1]:.4g} "
          f"({report.conv_names[-1]}), lab: {net['init']['conv_grad_norms'][0]:.4g}")
    assert report.conv_names[0] == "conv1" and len(report.conv_grad_norms) == 55
    assert abs(report.first_last_ratio / net["first_last_ratio_init"] - 1) < 1e-3

# %% [markdown]
# ## 5. Degradation (the paper's Figure 6)
#
# `run_experiment("degradation", ...)` trains plain-20, plain-56, ResNet-20 and ResNet-56
# through resnetlab's training system with the paper's recipe (`he2016`: SGD, learning rate
# 0.1, momentum 0.9, weight decay $10^{-4}$, learning rate ÷10 at 50 % and 75 % of training,
# batch 128, random crops and flips) for the **same number of iterations**. Without
# `iterations` it times one step of every network and fits as many iterations as
# `budget_minutes` allows.
#
# Read the result with the caveats of the lab's documentation (`docs/lab.md`):
#
# - the paper trains for 64,000 iterations on 45,000 images; a 12-minute CPU budget is a few
#   percent of that. At such budgets the lab reproduces the degradation of the plain nets
#   (plain-56 well above plain-20) quickly; the paper's last step takes longer: ResNet-56
#   starts slower than ResNet-20 and passes it only after ~1,600 iterations. The lab's
#   25-minute default (5,007 iterations, `docs/lab.md`) shows both claims; this notebook's
#   12 minutes give about half that, and the verdict then may say "inconclusive" — it never
#   calls noise a result;
# - the curves are noisy (small test set, few epochs), and in quick mode — 4 iterations on
#   128 digits — every network is still near chance: quick mode only checks that the
#   experiment runs and that the four networks got the same training, it shows no ranking.

# %%
deg_result, deg_dir = run_experiment("degradation", out_dir=OUT / "degradation", quick=QUICK,
                                     seed=SEED, budget_minutes=BUDGET_MINUTES,
                                     iterations=DEG_ITERATIONS, **lab_data)
print(*deg_result.verdict, sep="\n")
deg = deg_result.results

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
for name, history in deg["history"].items():
    plain, depth = name.startswith("plain"), int(name.removeprefix("plain").removeprefix("resnet"))
    style = dict(color=depth_color(depth), ls="--" if plain else "-", marker=".",
                 label=f"{'plain' if plain else 'ResNet'}-{depth}")
    steps = [row["step"] for row in history]
    axes[0].plot(steps, [100 * (1 - row["train_acc"]) for row in history], **style)
    axes[1].plot(steps, [100 * (1 - row["test_acc"]) for row in history], **style)
axes[0].set(xlabel="iteration", ylabel="error (%)", title="training error (running, per epoch)")
axes[1].set(xlabel="iteration", title="test error (after each epoch)")
axes[1].tick_params(labelleft=True)
for ax in axes:
    ax.axhline(90, color="black", lw=0.7, ls=":")  # chance: 10 classes
    ax.set(xlim=(0, 1.05 * deg["iterations"]), ylim=(0, 100))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(title="dashed: plain, solid: residual", title_fontsize=8)
fig.suptitle(f"Degradation on {deg['data']}: {deg['iterations']} iterations per network, "
             f"batch {deg['batch_size']} (dotted: chance)")
fig.savefig(OUT / "degradation.png", dpi=100)
plt.show()

final = deg["final"]
print(f"{'network':>9} | training error | test error")
for name, row in final.items():
    print(f"{name:>9} | {100 * row['train_error']:12.1f} % | {100 * row['test_error']:8.1f} %")
assert sorted(final) == ["plain20", "plain56", "resnet20", "resnet56"]
assert all(history[-1]["step"] == deg["iterations"] for history in deg["history"].values())
assert len({len(history) for history in deg["history"].values()}) == 1
if not QUICK and deg["iterations"] >= 500:
    assert final["plain56"]["train_error"] > final["plain20"]["train_error"] + 0.05

# %% [markdown]
# How to read it (full mode): dashed lines are plain nets, solid ones residual, blue 20
# layers and red 56. The drops in every curve are the two learning-rate divisions. The
# **plain-56 curve stays above plain-20 in the training error**: the deeper plain net does
# not even fit its training data as well — degradation, not overfitting. With shortcuts the
# 56-layer net trains far better than plain-56; whether it also beats ResNet-20, as in the
# paper, depends on the budget: in the lab's 25-minute default it pulls ahead after ~1,600
# iterations and ends 7 points lower; on a GPU, `iterations=64000` on the full CIFAR-10 is the
# paper's own run. The assert above
# checks the degradation only in full mode and with at least 500 iterations (the lab
# measured gaps of 27 and 37 points at 824 and 1,590 iterations, `docs/lab.md`); with fewer
# iterations both plain nets may still be near chance.
#
# ## Summary
#
# - Deeper plain networks train *worse*, on the training set itself: the degradation
#   problem is an optimisation problem.
# - With BatchNorm, the gradients of a deep plain network do not vanish at the start; they
#   explode toward the input, and after a few steps the first layers stall. Residual
#   connections keep the flow even because each block adds an identity path to the
#   backward signal.
# - Plain and residual CIFAR nets of the same depth have exactly the same parameters; the
#   difference is the addition alone.
#
# **To try:** `GRAD_STEPS = 100` shows how far the collapse goes; `DEPTHS = (20, 32, 44, 56)`
# shows how fast the plain ratio grows with depth; from a terminal,
# `resnetlab lab gradient-flow --data cifar10 --data-dir DIR` and
# `resnetlab lab degradation --data-dir DIR --budget-minutes 30` run the same experiments.
