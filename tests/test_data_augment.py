"""Batched augmentation equals its per-image definition and is driven only by its generator."""

from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as TF

from resnetlab.data import Augment, crop_and_flip, cutout, normalize, random_crop, random_flip


def _batch(n: int = 64, c: int = 3, h: int = 12, w: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def _reference_crop(image: torch.Tensor, pad: int, top: int, left: int) -> torch.Tensor:
    h, w = image.shape[-2:]
    return TF.crop(TF.pad(image, [pad]), top, left, h, w)


def test_random_crop_equals_a_per_image_padded_crop():
    x, pad = _batch(), 3
    out = random_crop(x, pad, torch.Generator().manual_seed(1))
    offsets = set()
    for image, cropped in zip(x, out, strict=True):
        matches = [(t, lft) for t in range(2 * pad + 1) for lft in range(2 * pad + 1)
                   if torch.equal(_reference_crop(image, pad, t, lft), cropped)]
        assert matches, "crop is not a window of the zero-padded image"
        offsets.update(matches)
    assert len(offsets) > 10, "offsets should vary per image"


def test_random_crop_with_zero_pad_is_identity():
    x = _batch()
    assert torch.equal(random_crop(x, 0, torch.Generator().manual_seed(0)), x)


def test_random_flip_mirrors_some_images_and_keeps_the_rest():
    x = _batch()
    out = random_flip(x, torch.Generator().manual_seed(2))
    flipped = [torch.equal(o, TF.horizontal_flip(i)) for i, o in zip(x, out, strict=True)]
    kept = [torch.equal(o, i) for i, o in zip(x, out, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54


def test_fused_crop_and_flip_equals_crop_then_flip():
    x = _batch()
    fused = crop_and_flip(x, 4, True, torch.Generator().manual_seed(9))
    generator = torch.Generator().manual_seed(9)
    sequential = random_flip(random_crop(x, 4, generator), generator)
    assert torch.equal(fused, sequential)


def test_normalize_leaves_a_float_input_untouched():
    x = torch.rand(2, 3, 4, 4)
    before = x.clone()
    normalize(x, (0.5,) * 3, (0.2,) * 3)
    assert torch.equal(x, before)


def test_cutout_blanks_one_clipped_square_per_image():
    x = torch.full((200, 1, 16, 16), 7, dtype=torch.uint8)
    out = cutout(x, 4, torch.Generator().manual_seed(3))
    blanked = (out == 0)[:, 0]
    for mask in blanked:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4
        assert int(mask.sum()) == len(rows) * len(cols)  # a filled rectangle
    assert (blanked.sum(dim=(1, 2)) == 16).any() and (blanked.sum(dim=(1, 2)) < 16).any()


def test_normalize_matches_torchvision_on_unit_range():
    x = _batch()
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    expected = TF.normalize(x.float() / 255, list(mean), list(std))
    assert torch.allclose(normalize(x, mean, std), expected, atol=1e-5)


def test_augment_is_a_function_of_its_generator_seed():
    x, aug = _batch(), Augment(pad=2, flip=True, cutout=3, mean=(0.5,) * 3, std=(0.2,) * 3)
    a = aug(x, torch.Generator().manual_seed(5))
    b = aug(x, torch.Generator().manual_seed(5))
    c = aug(x, torch.Generator().manual_seed(6))
    assert a.dtype == torch.float32 and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_with_everything_off_only_normalizes():
    x, stats = _batch(), ((0.3, 0.3, 0.3), (0.1, 0.2, 0.3))
    aug = Augment(pad=0, flip=False).with_stats(*stats)
    assert torch.equal(aug(x, torch.Generator()), normalize(x, *stats))


def test_augment_cutout_fills_with_the_mean_after_normalizing():
    x = torch.full((32, 3, 8, 8), 200, dtype=torch.uint8)
    out = Augment(pad=0, flip=False, cutout=2, mean=(0.1,) * 3, std=(0.2,) * 3)(
        x, torch.Generator().manual_seed(0))
    assert (out == 0).any() and ((out == 0) | (out > 3)).all()
