"""Weights from URLs: the published table, the cache, SHA-256 checks and the offline error."""

from __future__ import annotations

import hashlib

import pytest
import torch
import torchvision.models as tvm

import resnetlab
from resnetlab.cli import main
from resnetlab.errors import CheckpointError, ConfigError
from resnetlab.models import load_weights
from resnetlab.models.hub.fetch import cache_dir, fetch
from resnetlab.models.hub.zoo import TORCHVISION_WEIGHTS


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNETLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def _enum_name(model: str) -> str:
    return {"resnext50_32x4d": "ResNeXt50_32X4D", "resnext101_32x8d": "ResNeXt101_32X8D",
            "resnext101_64x4d": "ResNeXt101_64X4D", "wide_resnet50_2": "Wide_ResNet50_2",
            "wide_resnet101_2": "Wide_ResNet101_2"}.get(model, model.replace("resnet", "ResNet"))


def test_published_table_matches_torchvision():
    for entry in TORCHVISION_WEIGHTS:
        published = getattr(getattr(tvm, f"{_enum_name(entry.model)}_Weights"), entry.tag)
        assert published.url == entry.url
        assert published.meta["_metrics"]["ImageNet-1K"]["acc@1"] == pytest.approx(entry.top1)
        assert published.transforms().resize_size == [entry.resize_size]
    v1 = {e.model for e in TORCHVISION_WEIGHTS if e.tag == "IMAGENET1K_V1"}
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
            "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"} <= v1


def _published_file(tmp_path, digest_ok: bool = True):
    """A resnet20 .pth named torch-hub style, served from a file:// URL."""
    src = tmp_path / "served" / "model.pth"
    src.parent.mkdir()
    torch.save(resnetlab.create_model("resnet20").state_dict(), src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:8]
    if not digest_ok:
        digest = "%08x" % (int(digest, 16) ^ 1)
    named = src.with_name(f"resnet20-{digest}.pth")
    src.rename(named)
    return named.as_uri(), named


def test_url_is_downloaded_into_the_cache_once(tmp_path):
    url, served = _published_file(tmp_path)
    first = fetch(url)
    assert first.parent == cache_dir() and first.name == served.name
    served.unlink()  # a second call must not need the source any more
    assert fetch(url) == first
    load_weights(resnetlab.create_model("resnet20"), url)


def test_hash_mismatch_is_refused_and_not_cached(tmp_path):
    url, _ = _published_file(tmp_path, digest_ok=False)
    with pytest.raises(CheckpointError, match="SHA-256"):
        fetch(url)
    assert not any(cache_dir().glob("*.pth"))


def test_offline_url_names_the_url_and_where_to_put_the_file(capsys):
    url = "http://127.0.0.1:9/resnet18-f37072fd.pth"  # nothing listens on the discard port
    code = main(["export", url, "--model", "resnet18"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "\n" not in err
    assert url in err and str(cache_dir() / "resnet18-f37072fd.pth") in err


def test_published_tag_resolves_to_the_torchvision_url(monkeypatch):
    asked = []

    def offline_fetch(url, sha256=None):
        asked.append(url)
        raise CheckpointError("offline")

    monkeypatch.setattr("resnetlab.models.hub.weights.fetch", offline_fetch)
    with pytest.raises(CheckpointError):
        load_weights(resnetlab.create_model("resnet18"), "IMAGENET1K_V1")
    assert asked == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]


def test_unknown_tag_lists_what_the_model_has():
    with pytest.raises(ConfigError, match="IMAGENET1K_V1"):
        load_weights(resnetlab.create_model("resnet18"), "IMAGENET1K_V2")
