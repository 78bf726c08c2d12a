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
# # 06 · Transfer learning and Grad-CAM
#
# A network trained on one task already knows a lot about images: edges, strokes, textures,
# parts. **Transfer learning** reuses that knowledge: keep the trained body of the network
# (the *backbone*), put a new classifier (the *head*) on top for *your* classes, and train on
# a small folder of your own images. Then we ask the fine-tuned network *where it looked* with
# **Grad-CAM** (Selvaraju et al. 2017).
#
# What you will do:
#
# 1. build an image folder in the layout every tool expects (`class_name/*.png`);
# 2. get a pretrained backbone and see why its classifier must be replaced;
# 3. fine-tune with `resnetlab`'s own fine-tune (the same code as `resnetlab finetune`):
#    first the head alone with the backbone frozen, then the whole network;
# 4. compare against training the same network from random weights;
# 5. explain predictions with Grad-CAM heatmaps.
#
# **Time.** Quick mode (`RESNETLAB_QUICK=1`): about 10 s. Full mode: 2–5 minutes on a laptop CPU
# (it downloads the 45 MB ImageNet ResNet-18 weights once, if you are online).

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "06"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "en")

MY_IMAGES = DATA_DIR / "my-images"  # your own folder: my-images/<class_name>/*.png|jpg
WEIGHTS = "IMAGENET1K_V1"  # full mode: torchvision's published ImageNet weights of ResNet-18
TRAIN_PER_CLASS = 15  # labelled images per class in the digit folder: transfer's use case
PRETRAIN_STEPS = 30 if QUICK else 300
FREEZE_EPOCHS = 2  # phase 1: the new head alone
EPOCHS = 3 if QUICK else 10  # phase 2: the whole network

# %% [markdown]
# ## What "pretrained" means in this notebook
#
# The course notes load a pretrained network with torchvision,
# `models.resnet50(weights='IMAGENET1K_V2')`. resnetlab reads the same published files
# (`rl.load_weights(model, "IMAGENET1K_V1")`, or `--weights IMAGENET1K_V1` on the command line),
# but this notebook must also run with no internet. So, honestly:
#
# - **quick mode** uses as "pretrained" backbone a ResNet-20 that we train here for a few
#   seconds on the digits **0–5** of the embedded 8×8 digit set; the new task is the digits
#   **6–9**, classes the backbone has never seen;
# - **full mode** uses the real ImageNet ResNet-18 weights (`IMAGENET1K_V1`, 1.28 M photos of
#   1000 classes) when they can be downloaded, and your own folder `DATA_DIR/my-images` when it
#   exists. When either is missing it says why and falls back to the digits.

# %%
import json
import shutil

import matplotlib.pyplot as plt
import torch
from matplotlib.cm import ScalarMappable
from PIL import Image

import resnetlab as rl
from resnetlab.analysis.gradcam import grad_cam, overlay
from resnetlab.analysis.render import image_for_display
from resnetlab.data import normalize
from resnetlab.train.finetune import build_pretrained, discriminative_lr, finetune
from resnetlab.train.recipes import resolve_recipe

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. A folder of your own images
#
# The simplest dataset format there is, the one torchvision's `ImageFolder` made standard:
# one sub-folder per class, the folder name is the class name.
#
# ```
# my-images/
#     cat/ 001.jpg 002.jpg ...
#     dog/ ...
# ```
#
# `rl.data.load("folder", root)` reads it into memory and, when there are no `train/` and
# `test/` sub-folders, holds out a stratified 20 % as test images (always the same ones).
# Here we write such a folder from the embedded digits: `pretrain-images/` with digits 0–5
# for the backbone, and `images/train/` + `images/test/` with digits 6–9, only
# 15 labelled images per class for training, as with a small set of your own photos.

# %%
digits = rl.data.load("digits")
all_images = torch.cat([digits.train.images, digits.test.images])
all_labels = torch.cat([digits.train.labels, digits.test.labels]).tolist()
pretrain_cap = 100 if QUICK else None  # images per class for the backbone's own task
test_cap = 40 if QUICK else None  # held-out images per class of the new task

for old in ("pretrain-images", "images"):  # a previous run (quick or full) starts afresh
    shutil.rmtree(OUT / old, ignore_errors=True)
written: dict[int, int] = {}
for i, (image, label) in enumerate(zip(all_images, all_labels, strict=True)):
    n = written.get(label, 0)
    if label <= 5:
        if pretrain_cap is not None and n >= pretrain_cap:
            continue
        folder = OUT / "pretrain-images" / str(label)
    else:
        if test_cap is not None and n >= TRAIN_PER_CLASS + test_cap:
            continue
        split = "train" if n < TRAIN_PER_CLASS else "test"
        folder = OUT / "images" / split / str(label)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")
    written[label] = n + 1
print("PNG files written per digit:", dict(sorted(written.items())))

# %% [markdown]
# Which images does the new task use? In full mode, your own folder if you made one;
# otherwise the digit folder we just wrote.

# %%
if not QUICK and MY_IMAGES.is_dir():
    TARGET = MY_IMAGES
    print(f"using your own images: {MY_IMAGES}")
else:
    TARGET = OUT / "images"
    if not QUICK:
        print(f"no folder {MY_IMAGES}: put one sub-folder per class there (e.g. "
              f"{MY_IMAGES}/cat/*.jpg) to fine-tune on your own images; using the digits 6-9")

# %% [markdown]
# ## 2. The pretrained backbone
#
# Full mode first tries the real thing, the ImageNet ResNet-18. `build_pretrained` is what
# `resnetlab finetune` calls: it builds the model and loads the weights, so a missing file
# fails here with a one-line message that says how to fix it. Otherwise (and always in
# quick mode) we pretrain the ResNet-20 on digits 0–5 with `rl.train`.

# %%
backbone = None
if not QUICK:
    try:
        build_pretrained("resnet18", {}, WEIGHTS, 1000)
        backbone = {"model": "resnet18", "weights": WEIGHTS, "classes": 1000,
                    "image_size": 224 if TARGET == MY_IMAGES else 112, "lr": 0.01}
        print(f"backbone: resnet18 with the ImageNet weights {WEIGHTS}")
    except rl.ResnetlabError as exc:
        print(f"{exc}\n-> falling back to a backbone pretrained here on digits 0-5")

if backbone is None:
    # images this small: each op is too small to gain from a second thread, and on a shared
    # machine every op would wait for it (docs/training.md, --threads)
    torch.set_num_threads(1)
    size = 8 if QUICK else 16  # digits are 8x8; full mode upsamples them to 16x16
    pre_data = rl.data.load("folder", OUT / "pretrain-images", image_size=size)
    pre_run = rl.train("resnet20", pre_data, "fast", OUT / "pretrained", seed=SEED,
                       overrides={"iterations": PRETRAIN_STEPS, "batch_size": 64,
                                  "flip": False, "tta_flip": False},
                       quiet=True, overwrite=True, checkpoint_seconds=0)
    pre_acc = pre_run.metrics["test_top1"]
    print(f"backbone: resnet20 trained {PRETRAIN_STEPS} steps on digits 0-5 "
          f"({len(pre_data.train)} images): {100 * pre_acc:.1f} % on their "
          f"{len(pre_data.test)} held-out images")
    # the backbone learned its own task (chance: 1/6)
    assert pre_acc > 2 / 6
    backbone = {"model": "resnet20", "weights": OUT / "pretrained", "classes": 6,
                "image_size": size, "lr": 0.05}

# %%
data = rl.data.load("folder", TARGET, image_size=backbone["image_size"])
num_classes = data.num_classes
print(f"new task: {num_classes} classes {data.classes}, {len(data.train)} training and "
      f"{len(data.test)} held-out test images of {tuple(data.input_size)}")
assert TARGET == MY_IMAGES or len(data.train) == TRAIN_PER_CLASS * num_classes

# %% [markdown]
# ## 3. A new head: why a strict load fails
#
# The notes' `models.resnet50(weights=...)` gives a network whose last layer `fc` still
# predicts the 1000 ImageNet classes (here: the backbone's 6 digits). Loading those weights
# into a model built for *our* classes fails on exactly that layer, because a 6-output (or
# 1000-output) `fc` cannot become a 4-output one. The fix is to keep everything **except** the
# classifier, which starts fresh: `new_head=True`.

# %%
target_model = rl.create_model(backbone["model"], num_classes=num_classes)
try:
    rl.load_weights(target_model, backbone["weights"])
    strict_failed = False
except rl.ResnetlabError as exc:
    strict_failed = True
    print("strict load:", exc)
report = rl.load_weights(target_model, backbone["weights"], new_head=True)
print(f"new_head=True: {report.loaded} tensors loaded, fresh classifier: {report.fresh_head}")
assert strict_failed == report.fresh_head == (num_classes != backbone["classes"])
assert tuple(target_model.fc.weight.shape)[0] == num_classes

# %% [markdown]
# ## 4. Fine-tuning in two phases
#
# `resnetlab.train.finetune.finetune` (the Python side of `resnetlab finetune`) does what the
# literature recommends:
#
# 1. **Frozen backbone** (`freeze_epochs`): only the new head trains. A random head sends
#    random gradients into the backbone; training it first protects the pretrained features.
# 2. **Full fine-tune** (`epochs`): everything trains, with *discriminative learning rates*
#    (Howard & Ruder 2018, ULMFiT): each stage further from the head gets the rate multiplied by
#    `lr_decay` once more, because the early layers hold generic features that need less change.
#
# The table below is that rule for our model (`discriminative_lr`, which the fine-tune uses).
#
# With 60 training images an epoch is only 4 steps of 16 images, so you may see the training
# loop's warning that "the training loss rose during the first epoch": it compares the first
# epoch's mean loss with its very first step, which is noisy over 4 steps. On a real run it is
# the sign of a learning rate that is too high.

# %%
scales = discriminative_lr(target_model, lr_decay=0.5)
for prefix in ["fc.", *[f"{s}." for s in reversed(target_model.stage_names)], "conv1."]:
    factor = next(v for k, v in scales.items() if k.startswith(prefix))
    print(f"  {prefix:<8} lr x {factor:g}")
assert scales["fc.weight"] == 1.0 and scales["conv1.weight"] < scales["fc.weight"]

# %%
recipe = resolve_recipe("fast", {"lr": backbone["lr"], "batch_size": 16,
                                 "flip": False, "tta_flip": False})
ft_dir = OUT / "finetune"
ft_run = finetune(backbone["model"], backbone["weights"], data, recipe, ft_dir,
                  epochs=EPOCHS, freeze_epochs=FREEZE_EPOCHS, lr_decay=0.5, seed=SEED,
                  overwrite=True, quiet=True, checkpoint_seconds=0)
head_metrics = json.loads((ft_dir / "head" / "model.json").read_text())["metrics"]
frozen_acc, finetuned_acc = head_metrics["test_top1"], ft_run.metrics["test_top1"]
print(f"after phase 1 (head only, {FREEZE_EPOCHS} epochs): {100 * frozen_acc:.1f} % on the "
      "held-out images")
print(f"after phase 2 (whole network, {EPOCHS} epochs): {100 * finetuned_acc:.1f} %")
print("the same from a terminal:\n  resnetlab finetune --model", backbone["model"],
      "--weights", backbone["weights"], "--data folder --data-dir", TARGET,
      f"--freeze-epochs {FREEZE_EPOCHS} --epochs {EPOCHS} --lr {backbone['lr']}")

# %% [markdown]
# ## 5. Did phase 1 really freeze the backbone?
#
# `requires_grad=False` stops the gradient, but it does **not** freeze a network in training
# mode: every BatchNorm layer keeps updating its running mean and variance with each batch,
# so the "frozen" backbone would drift towards the new data's statistics anyway. resnetlab also
# sets the BatchNorm momentum to 0 during phase 1. We check it: every backbone tensor
# (weights *and* BatchNorm statistics) after phase 1 is bit-for-bit the pretrained one.

# %%
before = build_pretrained(backbone["model"], {}, backbone["weights"], num_classes).state_dict()
after_head, _ = rl.load_model(ft_dir / "head")
after_full, meta = rl.load_model(ft_dir)
after, final = after_head.state_dict(), after_full.state_dict()
body = [k for k in before if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
unchanged = sum(torch.equal(before[k], after[k]) for k in body)
moved = sum(not torch.equal(before[k], final[k]) for k in body)
print(f"phase 1: {unchanged} of {len(body)} backbone tensors unchanged; "
      f"phase 2: {moved} of them moved")
assert unchanged == len(body) and moved > 0
assert not torch.equal(before["fc.weight"], after["fc.weight"])

# %% [markdown]
# ## 6. Does the pretraining help?
#
# The honest comparison: the same architecture and recipe, from random weights, for as many
# epochs as both phases together.

# %%
scratch = rl.train(backbone["model"], data, recipe.with_length(epochs=FREEZE_EPOCHS + EPOCHS),
                   OUT / "scratch", seed=SEED, quiet=True, overwrite=True, checkpoint_seconds=0)
scratch_acc = scratch.metrics["test_top1"]
evaluation = rl.evaluate(ft_dir, data.test)
chance = 1 / num_classes
print(f"held-out accuracy: from scratch {100 * scratch_acc:.1f} %, frozen backbone "
      f"{100 * frozen_acc:.1f} %, full fine-tune {100 * finetuned_acc:.1f} % "
      f"(chance {100 * chance:.0f} %)")
print("fine-tuned, per class:", {c: f"{100 * a:.0f} %" for c, a in evaluation.per_class.items()})
assert evaluation.n == len(data.test) and abs(evaluation.top1 - finetuned_acc) < 1e-6
# well above chance on images it never trained on
assert finetuned_acc >= 2 * chance

# %%
names = ["from scratch\n(random weights)", "frozen backbone\n(head only)", "full fine-tune"]
values = [100 * scratch_acc, 100 * frozen_acc, 100 * finetuned_acc]
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
bars = ax.bar(names, values, color=["#999999", "#7fa7d9", "#2b6cb0"])
ax.bar_label(bars, fmt="%.1f %%")
ax.axhline(100 * chance, color="k", ls="--", lw=1, label=f"chance ({100 * chance:.0f} %)")
ax.set_ylim(0, 115)
ax.set_ylabel("held-out accuracy (%)")
ax.set_title(f"{backbone['model']} on {len(data.train)} training images, "
             f"{len(data.test)} test images")
ax.legend(loc="upper left", fontsize=8)
fig.savefig(OUT / "transfer.png", dpi=120)
plt.show()

# %% [markdown]
# How to read it: the frozen head is only as good as the backbone's features; the full
# fine-tune adapts them. Whether pretraining beats training from scratch depends on how much
# the backbone learned and how close its task is to yours: with a backbone that saw 8×8
# digits for a few seconds, on 15 images per class of an easy task, the three bars can come
# out in any order (the notebook does not assert it). resnetlab's benchmark on CIFAR-10
# (docs/benchmarks.md, "Transfer learning") measured fine-tuning 3.7 points above the best
# from-scratch run with a backbone trained for 40 epochs, and the opposite with one trained for
# only 8: a backbone that has not learned its own task has nothing to transfer. With ImageNet
# weights and real photos the gap is usually much larger.
#
# ## 7. Grad-CAM: where does the network look?
#
# Grad-CAM (Selvaraju et al. 2017) takes the feature maps $A^k$ of a layer (by default the
# last stage) and the gradient of the class score $y^c$ with respect to them. The average
# gradient over positions is the importance $\alpha_k$ of channel $k$, and the map is
#
# $$L^c = \mathrm{ReLU}\Big(\sum_k \alpha_k A^k\Big), \qquad
# \alpha_k = \frac{1}{hw}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}},$$
#
# upsampled to the image and scaled to [0, 1]. Its true resolution is the layer's (`h × w`),
# not the image's: one value per position of that stage.

# %%
# two held-out images of each class (at most 8 images in all)
picks = [i for c in range(num_classes)
         for i in (data.test.labels == c).nonzero().flatten()[:2].tolist()][:8]
count = len(picks)
explained = []
for i in picks:
    x = normalize(data.test.images[i : i + 1], meta["mean"], meta["std"])
    last = grad_cam(after_full, x)  # the last stage (default layer)
    earlier = grad_cam(after_full, x, layer=after_full.stage_names[-2])
    explained.append((x, last, earlier))

stage_shapes = {row.name: tuple(row.output_shape[1:])
                for row in rl.summary(after_full, (1, *data.input_size), depth=1).rows}
for x, last, earlier in explained:
    for cam in (last, earlier):
        # upsampled to the image
        assert tuple(cam.cam.shape) == tuple(x.shape[-2:])
        # computed at the layer
        assert tuple(cam.layer_shape) == stage_shapes[cam.layer]
        assert 0.0 <= float(cam.cam.min()) and float(cam.cam.max()) <= 1.0
# Grad-CAM trains nothing
assert all(p.grad is None for p in after_full.parameters())
first = explained[0]
print(f"Grad-CAM at {first[1].layer}: computed on {first[1].layer_shape} feature maps, "
      f"returned as {tuple(first[1].cam.shape)} (the image size)")
print(f"Grad-CAM at {first[2].layer}: computed on {first[2].layer_shape}")

# %%
fig, axes = plt.subplots(3, count, figsize=(1.7 * count + 1.2, 6.2), squeeze=False,
                         layout="constrained")
for col, (i, (_, last, earlier)) in enumerate(zip(picks, explained, strict=True)):
    pixels = image_for_display(data.test.images[i])
    truth = data.classes[int(data.test.labels[i])]
    guess = data.classes[last.class_index]
    axes[0, col].imshow(pixels, cmap="gray", interpolation="nearest")
    axes[0, col].set_title(f"true {truth}\npredicted {guess} ({100 * last.probability:.0f} %)",
                           fontsize=9, color="k" if truth == guess else "tab:red")
    axes[1, col].imshow(overlay(pixels, last.cam), interpolation="bilinear")
    axes[2, col].imshow(overlay(pixels, earlier.cam), interpolation="bilinear")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
h, w = first[1].layer_shape[1:]
axes[1, 0].set_ylabel(f"{first[1].layer}\n({h}×{w} cells)", fontsize=9)
h, w = first[2].layer_shape[1:]
axes[2, 0].set_ylabel(f"{first[2].layer}\n({h}×{w} cells)", fontsize=9)
bar = fig.colorbar(ScalarMappable(cmap="jet"), ax=axes[1:, :], shrink=0.8)
bar.set_label("Grad-CAM (1 = its maximum)", fontsize=9)
fig.suptitle("Grad-CAM of the predicted class: red = positions that raise its score most",
             fontsize=10)
fig.savefig(OUT / "gradcam.png", dpi=100)
plt.show()

# %% [markdown]
# ## What to take away
#
# - Transfer learning = pretrained backbone + **new head** for your classes (`new_head=True`;
#   a strict load rightly refuses a classifier of another size).
# - Train the head first with the backbone frozen, **including its BatchNorm statistics**, then
#   everything with smaller rates for the early layers.
# - Always compare against training from scratch on the same held-out images: transfer helps
#   when the backbone learned something relevant, not by magic.
# - Grad-CAM shows which *positions of a stage* raised the predicted score. On 8×8 digits the
#   last stage of the ResNet-20 has only 2×2 positions (quick mode), so the map is a blob; the
#   earlier stage is finer but less class-specific. On a 224×224 photo a ResNet-18's last stage
#   has 7×7.
#
# **Your turn.** Put a few dozen photos per class under `data/my-images/<class>/` and run this
# notebook in full mode, or from a terminal:
#
# ```bash
# resnetlab finetune --model resnet18 --weights IMAGENET1K_V1 --data folder \
#     --data-dir data/my-images --freeze-epochs 2 --epochs 10 --out runs/my-finetune
# resnetlab lab gradcam --weights runs/my-finetune --data folder --data-dir data/my-images
# ```
