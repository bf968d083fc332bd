"""Modules imported on first use (:class:`importlib.util.LazyLoader`).

For a module that only some requests need and that is costly to import (many classes to
build), so that a server is ready sooner. Typed through ``TYPE_CHECKING``::

    if TYPE_CHECKING:
        from emulator.journey import step as steps
    else:
        steps = lazy_module("emulator.journey.step")
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name``, executed when one of its attributes is first read (at once if it is
    imported already)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
