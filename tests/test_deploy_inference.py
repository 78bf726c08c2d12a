"""Loading any weights for inference, the ImageNet preset, and the ``embed`` command."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import resnetlab
from resnetlab.cli import main
from resnetlab.deploy import preprocess
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.models import load_model, save_weights
from resnetlab.models.hub.preset import IMAGENET_MEAN, IMAGENET_STD, imagenet_classes


def test_imagenet_labels_ship_in_class_index_order():
    torchvision = pytest.importorskip("torchvision")
    published = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert imagenet_classes() == list(published)


def test_raw_torchvision_pth_gets_labels_and_the_imagenet_preset(tmp_path):
    torch.save(resnetlab.create_model("resnet18").state_dict(), tmp_path / "r18.pth")
    model, meta = load_model(tmp_path / "r18.pth", "resnet18")
    assert not model.training
    assert meta["classes"][0] == "tench" and len(meta["classes"]) == 1000
    assert meta["input_size"] == [3, 224, 224] and meta["resize_size"] == 256
    assert meta["mean"] == list(IMAGENET_MEAN)


def test_architecture_is_recognised_when_only_one_model_fits(tmp_path):
    torch.save(resnetlab.create_model("resnet50d").state_dict(), tmp_path / "w.pth")
    _, meta = load_model(tmp_path / "w.pth")
    assert meta["model"] == "resnet50d"


def test_ambiguous_weights_ask_for_the_model(tmp_path):
    # A plain net and its option-A ResNet have exactly the same parameters.
    torch.save(resnetlab.create_model("resnet20").state_dict(), tmp_path / "w.pth")
    with pytest.raises(ConfigError, match="resnet20, plain20.*--model"):
        load_model(tmp_path / "w.pth")
    _, meta = load_model(tmp_path / "w.pth", "resnet20")
    assert meta["num_classes"] == 10 and meta["classes"][3] == "3"


def test_run_dir_with_another_model_name_is_refused(tmp_path):
    save_weights(resnetlab.create_model("resnet20"), tmp_path / "run",
                 {"classes": list("abcdefghij"), "mean": [0.5] * 3, "std": [0.2] * 3,
                  "input_size": [3, 32, 32]})
    with pytest.raises(ConfigError, match="drop --model"):
        load_model(tmp_path / "run", "resnet56")


def test_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.pth", "resnet18")


def test_preset_equals_torchvisions_evaluation_transform():
    from torchvision.transforms import v2

    image = torch.randint(0, 256, (3, 300, 400), dtype=torch.uint8,
                          generator=torch.Generator().manual_seed(0))
    reference = v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224),
                            v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(image)
    meta = {"input_size": [3, 224, 224], "resize_size": 256, "mean": list(IMAGENET_MEAN),
            "std": list(IMAGENET_STD)}
    assert torch.allclose(preprocess([image], meta)[0], reference, atol=1e-5)


def test_embed_writes_one_pooled_vector_per_image_and_the_file_list(tmp_path, capsys):
    model = resnetlab.create_model("resnet20").eval()
    save_weights(model, tmp_path / "run", {"classes": list("abcdefghij"), "mean": [0.5] * 3,
                                           "std": [0.25] * 3, "input_size": [3, 32, 32]})
    images = tmp_path / "imgs"
    (images / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "sub/b.jpg", "c.png"):
        Image.fromarray(rng.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(images / name)
    (images / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "emb.npy"
    assert main(["embed", str(tmp_path / "run"), str(images), "--out", str(out),
                 "--batch-size", "2"]) == 0
    emb = np.load(out)
    listed = out.with_suffix(".txt").read_text().splitlines()
    assert listed == ["a.png", "c.png", "sub/b.jpg"]
    assert emb.shape == (3, model.num_features) and emb.dtype == np.float32
    # Row i is the pooled pre-logits feature of file i, preprocessed per model.json.
    from resnetlab.deploy import load_images
    _, meta = load_model(tmp_path / "run")
    x, _ = load_images([images / "c.png"], meta)
    with torch.no_grad():
        expected = model.forward_head(model.forward_features(x), pre_logits=True)
    assert np.allclose(emb[1], expected[0].numpy(), atol=1e-5)
