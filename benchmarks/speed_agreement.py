"""Do resnetlab's fast inference engines predict what fp32 eager PyTorch predicts?

Top-1 agreement with the fp32 eager model, and accuracy, of every engine of
``resnetlab.bench.inference`` on real images: the shared CIFAR-10 subset's test images,
upscaled to 224 x 224 for the ImageNet-shaped models. Agreement only means something if the
model's predictions are not random, and no pretrained weights can be downloaded here, so the
network is made predictive cheaply: it is trained for a few epochs on the subset upscaled
to 64 x 64 (``--pretrain-epochs``, ``--pretrain-size``), then adapted to 224 x 224: BatchNorm
statistics are re-estimated on upscaled training images (forward passes in train mode) and the
classifier is refitted to the frozen features of a few hundred of them (a linear probe). Its
accuracy is reported next to the agreement. (With ``--pretrain-epochs 0`` the features are
random ones; int8 agreement on such a network says little, see docs/benchmarks.md.) Not part
of CI; results go to docs/benchmarks.md, "Speed"::

    .venv/bin/python benchmarks/speed_agreement.py --model resnet50
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from resnetlab.bench import build_engine
from resnetlab.bench.inference import INT8_ENGINES
from resnetlab.data import load
from resnetlab.data.augment import normalize
from resnetlab.models import create_model

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-subset"


def upscaled(images: torch.Tensor, mean, std, size: int) -> torch.Tensor:
    """uint8 N x 3 x 32 x 32 -> normalized float N x 3 x size x size (bilinear)."""
    x = normalize(images, mean, std)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def batches(x: torch.Tensor, size: int):
    for i in range(0, len(x), size):
        yield x[i:i + size]


@torch.no_grad()
def set_bn_statistics(model, images, size: int, batch: int) -> None:
    """BN running statistics = averages over ``images`` (train-mode forward passes)."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    for chunk in batches(images, batch):
        model(chunk)
    model.eval()


@torch.no_grad()
def features(model, x: torch.Tensor, batch: int) -> torch.Tensor:
    nhwc = model.to(memory_format=torch.channels_last)
    return torch.cat([nhwc.forward_head(nhwc.forward_features(
        c.contiguous(memory_format=torch.channels_last)), pre_logits=True)
        for c in batches(x, batch)])


def fit_head(model, feats: torch.Tensor, labels: torch.Tensor, steps: int = 300) -> float:
    """Fit ``model.fc`` (softmax regression, L2-regularised, L-BFGS); returns train accuracy."""
    mean, std = feats.mean(0), feats.std(0) + 1e-6
    z = (feats - mean) / std
    w = torch.zeros(feats.shape[1], int(labels.max()) + 1, requires_grad=True)
    b = torch.zeros(w.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(z @ w + b, labels) + 1e-3 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # fold the standardisation into the linear layer
        model.fc.weight.copy_((w / std[:, None]).T)
        model.fc.bias.copy_(b - (mean / std) @ w)
        return float(((z @ w + b).argmax(1) == labels).float().mean())


def pretrain(model, bundle, epochs: int, size: int, lr: float):
    """``model`` trained ``epochs`` epochs on ``bundle`` upscaled to ``size`` (recipe ``fast``
    with peak ``lr`` and no weight EMA: over a few hundred steps the EMA would still hold
    mostly the random initialisation)."""
    from resnetlab.models import load_model
    from resnetlab.train import get_recipe, train, with_overrides

    recipe = with_overrides(get_recipe("fast"), {"image_size": size, "lr": lr, "ema": 0.0})
    with tempfile.TemporaryDirectory() as tmp:
        run = train(model, bundle, recipe=recipe, out_dir=Path(tmp) / "run", epochs=epochs,
                    quiet=True, overwrite=True)
        print(f"pre-training: test top-1 at {size}x{size} {100 * run.metrics['test_top1']:.1f} "
              "% (flip TTA)", flush=True)
        trained, _ = load_model(run.run_dir)
    return trained.to(memory_format=torch.contiguous_format)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--pretrain-size", type=int, default=64,
                        help="image size of the pre-training (upscaled subset images)")
    parser.add_argument("--pretrain-lr", type=float, default=0.1)
    parser.add_argument("--bn-images", type=int, default=128)
    parser.add_argument("--fit-images", type=int, default=512)
    parser.add_argument("--test-images", type=int, default=500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--engines", nargs="*",
                        default=["channels_last", "fold_bn", "compile", "onnx", "onnx_int8"])
    parser.add_argument("--calibration-images", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()

    bundle = load("cifar10", args.data_dir)
    train, test = bundle.train, bundle.test
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(train), generator=g)
    size = args.image_size

    def prep(ds, index):
        return upscaled(ds.images[index], train.mean, train.std, size)

    torch.manual_seed(0)
    model = create_model(args.model, num_classes=10)
    if args.pretrain_epochs:
        model = pretrain(model, bundle, args.pretrain_epochs, args.pretrain_size,
                         args.pretrain_lr)
        print(f"{args.model}: trained {args.pretrain_epochs} epochs at {args.pretrain_size}px "
              f"[{time.perf_counter() - started:.0f} s]", flush=True)
    set_bn_statistics(model, prep(train, order[:args.bn_images]), size, args.batch)
    fit_index = order[args.bn_images:args.bn_images + args.fit_images]
    train_acc = fit_head(model, features(model, prep(train, fit_index), args.batch),
                         train.labels[fit_index])
    model = model.to(memory_format=torch.contiguous_format).eval()
    print(f"{args.model}: BN statistics from {args.bn_images} images, head fitted on "
          f"{len(fit_index)} (train top-1 {100 * train_acc:.1f} %) "
          f"[{time.perf_counter() - started:.0f} s]", flush=True)

    x = prep(test, torch.arange(min(args.test_images, len(test))))
    y = test.labels[:len(x)]
    calib_index = order[-args.calibration_images:]
    calibration = prep(train, calib_index)
    reference = build_engine("eager", model, x[:args.batch])
    ref_pred = torch.cat([reference.run(c) for c in batches(x, args.batch)]).argmax(1)
    results = {"eager fp32": {"top1": float((ref_pred == y).float().mean()), "agreement": 1.0}}
    print(f"eager fp32: test top-1 {100 * results['eager fp32']['top1']:.1f} % "
          f"[{time.perf_counter() - started:.0f} s]", flush=True)
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.engines:
            engine = build_engine(name, model, x[:args.batch], workdir=workdir,
                                  calibration=calibration if name in INT8_ENGINES else None)
            pred = torch.cat([engine.run(c) for c in batches(x, args.batch)]).argmax(1)
            results[name] = {"top1": float((pred == y).float().mean()),
                             "agreement": float((pred == ref_pred).float().mean()),
                             "disagreements": int((pred != ref_pred).sum())}
            print(f"{name}: test top-1 {100 * results[name]['top1']:.1f} %, agreement with "
                  f"fp32 {100 * results[name]['agreement']:.2f} % "
                  f"({results[name]['disagreements']} of {len(x)} differ) "
                  f"[{time.perf_counter() - started:.0f} s]", flush=True)
    report = {"model": args.model, "image_size": size, "test_images": len(x),
              "pretrain_epochs": args.pretrain_epochs, "pretrain_size": args.pretrain_size,
              "pretrain_lr": args.pretrain_lr,
              "bn_images": args.bn_images, "fit_images": len(fit_index),
              "calibration_images": len(calib_index), "train_top1_probe": train_acc,
              "results": results, "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__, "seconds": time.perf_counter() - started}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
