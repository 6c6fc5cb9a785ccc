"""Lazy package attributes (PEP 562): names whose modules load torch or scipy are imported on first use.

``import symscope`` and ``symscope --help`` stay fast because only the attribute a caller touches
pulls its submodule in.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(package: str, namespace: dict[str, Any],
                    names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``names`` maps an attribute to the submodule that defines it.

    A resolved attribute is cached in ``namespace`` (the package's ``globals()``), so each is looked up once.
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{names[name]}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *names})

    return __getattr__, __dir__
