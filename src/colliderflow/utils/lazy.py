"""Package front doors that import an exported name's module only when the name is first used (PEP 562).

A package ``__init__`` lists its main entry points by module::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"build": ["build_dataset"], "read": ["load_dataset"]})

``from colliderflow.dataset import build_dataset`` then imports ``colliderflow.dataset.build`` at
that moment. Importing one module of a package thus never imports its siblings, their heavy
dependencies (torch, pyarrow, fastjet), or a stage above that imports back into the package: a
front door adds neither import cost nor import cycles.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: dict[str, list[str]]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """The module-level ``__getattr__``, ``__dir__`` and ``__all__`` of a package that exports names lazily.

    Args:
        package: the package's ``__name__``, called from its ``__init__``.
        homes: module, relative to the package -> the names of it that the package exports.

    Returns:
        (``__getattr__``, ``__dir__``, ``__all__``); a name, once looked up, is stored on the package.

    Raises:
        ValueError: a name exported twice, or a name that is also a module of the package
            (``physics.met.met``): the package attribute would be the module or the name depending
            on which was imported first, so such a name stays in its module.
    """
    # the package's modules and subpackages (and data folders: no export is named like those either)
    entries = {entry.removesuffix(".py") for folder in sys.modules[package].__path__ for entry in os.listdir(folder)}
    home_of: dict[str, str] = {}
    for module, names in homes.items():
        for name in names:
            if name in home_of:
                raise ValueError(f"{package}: {name!r} exported from both {home_of[name]!r} and {module!r}")
            if name in entries:
                raise ValueError(f"{package}: {name!r} is also a module of the package; leave it in its module")
            home_of[name] = module

    def __getattr__(name: str) -> Any:
        module = home_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(home_of))

    return __getattr__, __dir__, list(home_of)
