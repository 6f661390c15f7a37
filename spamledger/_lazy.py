"""Lazy package exports: a package names its public API at the top, loads it on first use.

``spamledger --help`` and every command import the packages whose subcommands they list;
importing web3, scikit-learn or FastAPI there would cost seconds on every call. A package
``__init__`` keeps its imports under ``if TYPE_CHECKING:`` (for readers and mypy) and sets
``__getattr__ = lazy_exports(__name__, {...})`` mapping each public name to its module.

Example::

    __getattr__ = lazy_exports(__name__, {"Ledger": "node._client"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` when ``name`` is first used."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    return __getattr__
