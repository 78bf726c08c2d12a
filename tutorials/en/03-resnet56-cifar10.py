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
# # 03 · ResNet-56 on CIFAR-10
#
# The course notebook of note 001 starts a **ResNet-56** for CIFAR-10 and stops after a
# (broken) residual block. Here we finish the job with `resnetlab`: build the network the paper
# describes, train it, and look at what it learned.
#
# 1. ResNet-56 is a "6n + 2" network (He et al. 2015, §4.2): what that means, checked on the
#    model, and what note 001's block would have built instead;
# 2. train it with `rl.train` on a time budget;
# 3. learning curves from the run's `metrics.csv`;
# 4. evaluation on the test split: accuracy, per-class accuracy, confusion matrix;
# 5. a gallery of the mistakes, with the true and the predicted class.
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`): about 10 s, a few dozen training steps on the
# embedded 8×8 digits. Full mode: about 5 minutes on a laptop CPU, `TIME_BUDGET` seconds of
# training (4 minutes by default) on CIFAR-10 from `DATA_DIR/cifar-10-batches-py` (downloaded,
# 170 MB, if missing; offline it says so and trains on the digits). A few minutes of CPU are
# far from the paper's 64,000 iterations, so expect a clearly-better-than-chance network, not
# the paper's 6.97 % error.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "03"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "en")

TIME_BUDGET = float(os.environ.get("RESNETLAB_TIME_BUDGET", "240"))  # full mode: seconds
QUICK_STEPS = 48  # quick mode: optimizer steps on the digits
LR, BATCH = 0.02, 32  # peak learning rate and batch size, both modes (see section 3)
TEST_IMAGES = 2000  # full mode: evaluate on at most this many test images (the first ones)
GALLERY = 12  # how many mistakes to show

# %%
import csv
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.render import image_for_display
from resnetlab.analysis.residual import block_names
from resnetlab.deploy.predict import predict_tensors
from resnetlab.errors import ResnetlabError

torch.manual_seed(SEED)
if QUICK:
    # 8×8 images make every operation tiny: a second thread costs more in waiting than it gives.
    torch.set_num_threads(1)

# %% [markdown]
# ## 1. What "ResNet-56" means
#
# For CIFAR-10's 32×32 images the paper does not use the ImageNet design of lesson 02. The
# network is a 3×3 convolution with 16 channels, then three stages of $n$ `BasicBlock`s on maps
# of 32×32, 16×16 and 8×8 with 16, 32 and 64 channels, then global average pooling and a linear
# layer to the 10 classes. Each block has two convolutions, so the depth is
# $1 + 2 \cdot 3n + 1 = 6n + 2$: $n = 9$ gives 56 layers with weights. The shortcuts are
# **option A** (lesson 01): identity, or subsampling plus zero channels where a stage starts, so
# the residual network has exactly the parameters of its plain twin; the paper lists 0.85 M
# (Table 6).
#
# Note 001's `residual_block` defaults to `change_size=True`, which puts a 1×1 projection on
# **every** block (option C), and its `conv_k_3` keeps a bias in front of each batch
# normalization (lesson 01). Both cost parameters the paper does not have; let us count.

# %%
with torch.device("meta"):  # shapes only: counting needs no weights
    net_a = rl.create_model("resnet56", num_classes=10)
    net_c = rl.create_model("resnet56", num_classes=10, shortcut="C")
    plain = rl.create_model("plain56", num_classes=10)

layers = [m for m in net_a.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
blocks = block_names(net_a)
biases = sum(m.out_channels for m in net_c.modules() if isinstance(m, torch.nn.Conv2d))
print(f"ResNet-56: {len(blocks)} blocks ({blocks[0]} … {blocks[-1]}), "
      f"{len(layers)} layers with weights")
print(f"option A (paper):           {count_params(net_a):>9,} parameters")
print(f"plain-56 (no shortcuts):    {count_params(plain):>9,} parameters")
print(f"option C (note 001):        {count_params(net_c):>9,} parameters")
print(f"option C + conv biases:     {count_params(net_c) + biases:>9,} parameters")
assert len(blocks) == 27 and len(layers) == 6 * 9 + 2
assert count_params(net_a) == count_params(plain)
assert round(count_params(net_a) / 1e6, 2) == 0.85
assert count_params(net_c) > count_params(net_a)

# %% [markdown]
# ## 2. The data
#
# Full mode reads the official CIFAR-10 batches: 60,000 colour images of 32×32 in ten classes
# (Krizhevsky 2009); the shared course copy is a subset of about 4,000 training and 1,000
# test images, read in the same format. Quick mode uses the 8×8 handwritten digits embedded in
# `resnetlab` (1,797 images, ten classes too), so that the notebook runs anywhere in seconds.

# %%
if QUICK:
    bundle = rl.data.load("digits")
else:
    try:
        bundle = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
    except ResnetlabError as err:
        print(err)
        print("-> training on the embedded digits instead")
        bundle = rl.data.load("digits")

if len(bundle.test) > TEST_IMAGES:  # the official 10,000: a part is enough to measure ±1 %
    bundle = replace(bundle, test=bundle.test.subset(slice(0, TEST_IMAGES)))
train_set, test = bundle.train, bundle.test
chance = 1 / bundle.num_classes
print(f"{bundle.name}: {len(train_set)} training and {len(test)} test images of "
      f"{'×'.join(map(str, train_set.input_size))}, classes {', '.join(train_set.classes)}")
print(f"test images per class: {test.class_counts().tolist()}; chance level {chance:.0%}")

# %% [markdown]
# ## 3. Training
#
# `rl.train` takes the model's name, the data and a length, and fills in everything else from
# its **fast** recipe: SGD with Nesterov momentum, a learning-rate warm-up followed by a linear
# decay, label smoothing, and a schedule fitted to the length of the run. In full mode the
# length is a **time budget**: the trainer measures its own speed and re-plans so that it stops
# on time. In quick mode it is a fixed number of steps.
#
# We change two of the recipe's choices. A run of a few minutes is very short for a 56-layer
# network: with the recipe's peak learning rate of 0.1 and batches of 128, ResNet-56 barely
# learns in three epochs of the CIFAR-10 subset (`docs/benchmarks.md`). A lower peak (0.02)
# and small batches of 32 (four times more updates for the same images seen) make it learn in
# the first epoch already: 25 % test accuracy after one epoch of the subset, where chance
# is 10 %.
#
# Everything goes into a run directory: `config.json`, `metrics.csv` (one row per epoch),
# checkpoints, and the final `model.safetensors` with its `model.json`.

# %%
run_dir = OUT / "run"
if QUICK:
    run = rl.train("resnet56", bundle, out_dir=run_dir, overwrite=True, seed=SEED, quiet=True,
                   overrides={"iterations": QUICK_STEPS, "lr": LR}, batch_size=BATCH)
else:
    run = rl.train("resnet56", bundle, out_dir=run_dir, overwrite=True, seed=SEED,
                   time_budget=TIME_BUDGET, overrides={"lr": LR}, batch_size=BATCH)

print(f"run directory: {run.run_dir}")
print(f"{run.metrics['steps']} steps, {run.metrics['epochs']} epochs, "
      f"{run.metrics['train_seconds']:.0f} s of training")
print("files:", ", ".join(sorted(p.name for p in run.run_dir.iterdir())))
assert (run.run_dir / "model.safetensors").is_file()
assert (run.run_dir / "model.json").is_file() and (run.run_dir / "metrics.csv").is_file()

# %% [markdown]
# ## 4. Learning curves
#
# `metrics.csv` has one row per epoch: the training loss and accuracy (averaged over the
# epoch, on augmented images) and the test loss and accuracy measured at the end of the epoch.
# The last epoch can be shorter than the others (the run stops after its planned number of
# steps), so we plot against the step count.

# %%
with open(run.run_dir / "metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))


def column(name: str, scale: float = 1.0) -> list[float]:
    """One column of metrics.csv as numbers; NaN where the run did not measure it (a run on a
    time budget skips the test pass of its last epoch: the final evaluation replaces it)."""
    return [scale * float(r[name]) if r[name] else float("nan") for r in rows]


steps = [int(r["step"]) for r in rows]  # epochs may differ in length: plot against steps
for r in rows:
    test_part = (f"test loss {float(r['test_loss']):.3f}  test acc {float(r['test_acc']):.1%}"
                 if r["test_acc"] else "test: final evaluation below")
    print(f"epoch {r['epoch']:>2}  step {r['step']:>5}  "
          f"train loss {float(r['train_loss']):.3f}  {test_part}")
print(f"final test accuracy (the saved model): {run.metrics['test_top1']:.1%}")
assert len(rows) == run.metrics["epochs"] and int(rows[-1]["step"]) == run.metrics["steps"]

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
ax_loss.plot(steps, column("train_loss"), "o-", label="train")
ax_loss.plot(steps, column("test_loss"), "s--", label="test")
ax_loss.set(xlabel="step (end of each epoch)", ylabel="cross-entropy loss", title="Loss")
ax_acc.plot(steps, column("train_acc", 100), "o-", label="train")
ax_acc.plot(steps, column("test_acc", 100), "s--", label="test")
ax_acc.plot(steps[-1:], [100 * run.metrics["test_top1"]], "*", ms=12, color="tab:red",
            label="final model")
ax_acc.axhline(100 * chance, color="grey", lw=1, ls=":", label="chance")
ax_acc.set(xlabel="step (end of each epoch)", ylabel="accuracy (%)", title="Accuracy",
           ylim=(0, 100))
for ax in (ax_loss, ax_acc):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"ResNet-56 on {bundle.name}: {run.metrics['steps']} steps", fontsize=11)
fig.savefig(OUT / "curves.png", dpi=100)
plt.show()

# %% [markdown]
# ## 5. Evaluation
#
# `rl.evaluate` reads the saved model back from the run directory, with the normalisation it
# was trained with, and measures it on the test split (in full mode on the official CIFAR-10,
# its first `TEST_IMAGES` images). The **confusion matrix** has one row per
# true class and one column per predicted class: the diagonal holds the correct answers, every
# other cell a kind of mistake.

# %%
ev = rl.evaluate(run.run_dir, test)
# "Better than chance by a margin": a blind guesser scores `chance` on average, and it passes
# chance + 5 standard deviations of its (binomial) score less than once in a million tries.
threshold = chance + 5 * (chance * (1 - chance) / ev.n) ** 0.5
print(f"top-1 accuracy {ev.top1:.1%} (chance {chance:.0%}; a guesser stays below "
      f"{threshold:.1%}), top-5 {ev.top5:.1%}, loss {ev.loss:.3f}, on {ev.n} test images")
for name, acc in ev.per_class.items():
    print(f"   {name:>10}: {acc:6.1%}")
assert ev.n == len(test) and int(ev.confusion.sum()) == len(test)
assert ev.top1 >= threshold
assert abs(ev.top1 - run.metrics["test_top1"]) <= 2 / ev.n

# %%
k = len(ev.classes)
rates = ev.confusion.double() / ev.confusion.sum(dim=1, keepdim=True).clamp_min(1)
fig, ax = plt.subplots(figsize=(6.8, 6.2), layout="constrained")
image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
for i in range(k):
    for j in range(k):
        if ev.confusion[i, j]:
            ax.text(j, i, int(ev.confusion[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
ax.set_xticks(range(k), labels=ev.classes, rotation=45, ha="right")
ax.set_yticks(range(k), labels=ev.classes)
ax.set(xlabel="predicted class", ylabel="true class",
       title=f"Confusion matrix ({ev.n} test images, accuracy {ev.top1:.1%})")
fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
fig.savefig(OUT / "confusion.png", dpi=100)
plt.show()

# %% [markdown]
# ## 6. The mistakes
#
# Which images does the network get wrong? We classify every test image with
# `resnetlab`'s prediction path (the one `resnetlab predict` and the server use), keep the
# wrong answers and show the most confident ones first: they are often the most instructive
# (an ambiguous image, a class that looks like another, sometimes a label one could argue
# with).

# %%
model, meta = rl.load_model(run.run_dir)
guesses = predict_tensors(model, meta, list(test.images), top_k=1)
predicted = torch.tensor([g[0].index for g in guesses])
confidence = torch.tensor([g[0].probability for g in guesses])
wrong = (predicted != test.labels).nonzero().flatten()
wrong = wrong[confidence[wrong].argsort(descending=True)]
accuracy = float((predicted == test.labels).float().mean())
print(f"{len(wrong)} mistakes out of {len(test)}; accuracy of the prediction path "
      f"{accuracy:.1%} (rl.evaluate: {ev.top1:.1%})")
assert len(wrong) == len(test) - int((predicted == test.labels).sum())
assert abs(accuracy - ev.top1) <= 2 / ev.n

shown = wrong[:GALLERY].tolist()
cols = 6
fig, axes = plt.subplots(2, cols, figsize=(2.0 * cols, 4.9), layout="constrained")
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, shown, strict=False):
    ax.imshow(image_for_display(test.images[i]), cmap="gray", interpolation="nearest")
    ax.set_title(f"true: {test.classes[int(test.labels[i])]}\n"
                 f"predicted: {test.classes[int(predicted[i])]} ({float(confidence[i]):.0%})",
                 fontsize=9)
fig.suptitle("Most confident mistakes on the test split", fontsize=11)
fig.savefig(OUT / "mistakes.png", dpi=100)
plt.show()

# %% [markdown]
# ## Summary
#
# - ResNet-56 is $6n + 2$ with $n = 9$: 27 basic blocks in three stages (16, 32, 64 channels)
#   and option-A shortcuts, 0.85 M parameters, exactly as many as its plain twin. Note 001's
#   block, with a projection on every block and biases before batch normalization, would build
#   a bigger network than the paper's.
# - `rl.train` with a time budget trains it on a laptop in minutes and leaves everything in the
#   run directory: the curves come from its `metrics.csv`, the evaluation from its
#   `model.safetensors`.
# - The trained network beats chance clearly; the confusion matrix and the gallery show which
#   classes it still mixes up. To get near the paper's 6.97 % error, train on the full
#   CIFAR-10 for much longer: `resnetlab train --model resnet56 --data cifar10 --data-dir DIR
#   --recipe he2016` follows the paper's schedule (64,000 iterations; hours on a GPU, days on
#   a CPU).
#
# Next lesson: batch normalization, the other ingredient that makes deep networks trainable.
