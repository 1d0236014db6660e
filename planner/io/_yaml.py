"""Reading YAML that users (or anyone who can write to a shared folder) wrote: safely and boundedly.

``yaml.safe_load`` refuses Python tags but not *alias bombs*: a few kB of anchors (``&a``) and
aliases (``*a``) nested nine deep describe a billion-element structure. Loading shares the
aliased objects, so it is quick; everything after it (validation, error messages, copying)
walks the expanded tree and runs out of memory or time. We count the nodes the document
expands to (a memoised walk over the loaded object graph, linear in its distinct objects) and
refuse more than :data:`MAX_EXPANDED_NODES`.
"""

from __future__ import annotations

from typing import Any

from planner.exceptions import SpecError

MAX_EXPANDED_NODES = 200_000


def _expanded_size(root: Any) -> int:
    """Nodes of ``root`` as a tree (aliases counted each time they appear), without expanding it."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(obj: Any) -> int:
        if not isinstance(obj, dict | list):
            return 1
        key = id(obj)
        if key in sizes:
            return sizes[key]
        if key in active:  # a recursive alias: infinite when expanded
            return MAX_EXPANDED_NODES + 1
        active.add(key)
        children = list(obj.keys()) + list(obj.values()) if isinstance(obj, dict) else obj
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def load_yaml(text: str, *, source: str) -> Any:
    """``yaml.safe_load`` with a bound on what anchors and aliases may expand to.

    Raises:
        SpecError: the text is not valid YAML, or it expands to more than
            :data:`MAX_EXPANDED_NODES` nodes (anchors and aliases).
    """
    import yaml

    try:
        data = yaml.safe_load(text)
    except RecursionError as err:
        raise SpecError(f"{source}: the YAML is nested too deeply to read; flatten it.") from err
    if _expanded_size(data) > MAX_EXPANDED_NODES:
        n_aliases = text.count("*")
        raise SpecError(
            f"{source}: the YAML expands to more than {MAX_EXPANDED_NODES:,} values through anchors (&) and "
            f"aliases (*; {n_aliases} in the file) - an 'alias bomb', refused. Write the values out instead of "
            "aliasing them (a campaign file needs no anchors)."
        )
    return data
