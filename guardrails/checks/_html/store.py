"""The list that owns one parsed tree's elements; elements find their parent in it by index.

Kept out of the compiled modules on purpose: a weak reference needs a plain Python object, and mypyc's native
classes (what `Element` becomes when compiled) cannot be weakly referenced.
"""

from __future__ import annotations

from typing import Any


class ElementStore(list[Any]):
    """Every element of one tree in creation order, root first. Elements hold one weak reference to it (shared
    by the whole tree), so no element references its parent strongly and a tree is never a reference cycle:
    it is freed as soon as its `Parsed` is dropped, without waiting for the cyclic garbage collector."""

    __slots__ = ("__weakref__",)
