"""Lazy package attributes (PEP 562): a name is imported the first time it is read.

``import resnetlab.cli`` and ``resnetlab models`` must not pay for ``import torch`` (about 2 s on
a small machine), yet ``resnetlab.create_model`` and friends must stay one attribute away. A
package lists ``{public name: module}`` and binds the two functions this returns::

    __getattr__, __dir__ = lazy_exports(__name__, {"create_model": "resnetlab.models.factory"})

A sub-package may be exported under its own name (``{"data": "resnetlab.data"}``): the value
is then the sub-package itself.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` that import ``exports[name]`` on first use."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        # a sub-package exported under its own name (``resnetlab.data``) is the value itself
        value = imported if module == f"{package}.{name}" else getattr(imported, name)
        setattr(sys.modules[package], name, value)  # later reads skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
