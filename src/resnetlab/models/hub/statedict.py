"""Reading weight files safely and mapping foreign key names onto resnetlab's (torchvision's).

Pickled checkpoints (``.pth``/``.pt``/``.bin``) are read with ``torch.load(weights_only=True)``,
which rebuilds tensors and plain containers but never runs code from the file; safetensors files
hold nothing else. The format is told by the file's first bytes, not its suffix.

Name map (:data:`KEY_RULES`). resnetlab's ``state_dict`` keys are torchvision's, and timm's
ResNet family (resnet18…152, resnet50d, resnext, wide_resnet) uses the very same keys, including
the deep stem ``conv1.0/1/3/4/6`` and the average-pool shortcut ``downsample.1/2`` of
``resnet50d``. What does differ between sources is the packaging, handled here:

- a wrapper dict: the weights under ``state_dict`` (timm and Lightning training checkpoints),
  ``model``, ``model_state`` / ``model_state_dict`` or ``net``;
- a prefix shared by every key: ``module.`` (DataParallel/DDP), ``_orig_mod.`` (torch.compile),
  ``model.``;
- the classifier's name: ``head.fc.``, ``head.``, ``classifier.`` or ``last_linear.`` → ``fc.``.
"""

from __future__ import annotations

import argparse
import contextlib
import pickle
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

import torch

from resnetlab.errors import CheckpointError

WRAPPER_KEYS = ("state_dict", "model", "model_state", "model_state_dict", "net")
SHARED_PREFIXES = ("module.", "_orig_mod.", "model.")
KEY_RULES = (("head.fc.", "fc."), ("head.", "fc."), ("classifier.", "fc."),
             ("last_linear.", "fc."))

_ZIP_MAGIC = b"PK\x03\x04"
# What torch.load's safe unpickler raises on damaged bytes: it parses the opcodes of a file
# that may be anything (an image passed as weights, a truncated download), and its stack and
# memo lookups fail with plain Python errors.
_CORRUPT = (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError,
            AttributeError, struct.error, zipfile.BadZipFile, MemoryError, RecursionError)
_RESAVE = ("re-save it with torch.save(model.state_dict(), path) or as .safetensors")


def _sniff(path: Path) -> str:
    """``"safetensors"``, ``"torch"`` (zip or legacy pickle) or ``"empty"``."""
    with open(path, "rb") as f:
        head = f.read(9)
    if not head:
        return "empty"
    if head[:4] == _ZIP_MAGIC:
        return "torch"
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    if len(head) == 9 and head[8:9] == b"{":
        return "safetensors"
    return "torch"


def _truncated(path: Path, why: object) -> CheckpointError:
    first = str(why).splitlines()[0].split(". ")[0][:100] if str(why).strip() else ""
    if isinstance(why, KeyError | IndexError | TypeError | AttributeError | struct.error):
        first = f"{type(why).__name__}: {first}"  # "101" alone says nothing
    first = first or type(why).__name__
    return CheckpointError(f"{path} is truncated or corrupt ({first}); download or copy it again")


def _allow_namespace():
    """Let ``weights_only`` loading accept ``argparse.Namespace``: timm training checkpoints
    store their arguments in one, and it holds plain attributes, never code."""
    safe_globals = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5
    return safe_globals([argparse.Namespace]) if safe_globals else contextlib.nullcontext()


def read_file(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file (safetensors or a torch pickle), on the CPU, unwrapped."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist; check the path")
    kind = _sniff(path)
    if kind == "empty":
        raise _truncated(path, "empty file")
    if kind == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError, MemoryError) as exc:
            raise _truncated(path, exc) from None
    try:
        # An open file, not the path: recent torch (2.14 here) hands a path ending .safetensors to
        # safetensors by its name, and here the content decides (a .pth renamed stays a .pth).
        with _allow_namespace(), open(path, "rb") as stream:
            obj = torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise CheckpointError(
                f"{path} contains pickled Python objects, not just tensors, and resnetlab "
                f"never executes code from a weights file; {_RESAVE}"
            ) from None
        raise _truncated(path, exc) from None
    except _CORRUPT as exc:
        raise _truncated(path, exc) from None
    return unwrap(obj, path)


def unwrap(obj: object, source: object = "checkpoint") -> dict[str, torch.Tensor]:
    """The flat ``name -> tensor`` dict inside a loaded checkpoint (see :data:`WRAPPER_KEYS`)."""
    if isinstance(obj, Mapping):
        for key in WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and any(torch.is_tensor(v) for v in inner.values()):
                obj = inner
                break
        tensors = {str(k): v for k, v in obj.items() if torch.is_tensor(v)}
        if tensors:
            return tensors
    raise CheckpointError(
        f"{source} holds no state_dict (found {type(obj).__name__}"
        + (f" with keys {', '.join(map(str, list(obj)[:5]))}" if isinstance(obj, Mapping) else "")
        + f"); {_RESAVE}"
    )


def map_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with shared prefixes removed and classifier names mapped to ``fc.``."""
    keys = list(state)
    for prefix in SHARED_PREFIXES:
        if keys and all(k.startswith(prefix) for k in keys):
            keys = [k[len(prefix):] for k in keys]
    out = {}
    for new, value in zip(keys, state.values(), strict=True):
        for old_prefix, replacement in KEY_RULES:
            if new.startswith(old_prefix):
                new = replacement + new[len(old_prefix):]
                break
        out[new] = value
    return out
