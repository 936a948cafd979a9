"""What a label name and a label colour may be (pure functions, Qt-free).

Why: label names end up in tags (``B-PER``), file formats, widget texts and stylesheets; a name
like ``<h1>BIG</h1>`` or ``red; background:url(x)`` as a colour must never get that far. Both the
store (at creation, rename and import) and the label manager (before asking the store) call these.
"""
from __future__ import annotations

import re

MAX_LABEL_LENGTH = 40
# Letters and digits (any script), and _ - . / : + & inside; a letter or digit at each end.
_INNER = set("_-./:+&")
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def valid_label_name(name: str) -> str | None:
    """None when ``name`` is a usable entity type, else the reason (one line, for the user).

    Admits the usual dataset names: ``PER``, ``WORK_OF_ART``, ``creative-work``, ``B.A``,
    ``org:sub``, ``Ort``, ``人名``. Refuses empty or over-long names, spaces and markup characters,
    leading or trailing punctuation, ``O`` (the outside tag) and tag-like names (``B-PER``)."""
    if not isinstance(name, str) or not name:
        return "a label name cannot be empty"
    if len(name) > MAX_LABEL_LENGTH:
        return f"a label name has at most {MAX_LABEL_LENGTH} characters ({len(name)} given)"
    bad = sorted({c for c in name if not (c.isalnum() or c in _INNER)})
    if bad:
        shown = " ".join("space" if c.isspace() else repr(c) for c in bad[:5])
        return (f"a label name may use letters, digits and _ - . / : + & only (not {shown})")
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "a label name must start and end with a letter or a digit"
    if name == "O":
        return "'O' is the tag for tokens outside any entity, not a label"
    if len(name) > 2 and name[1] == "-" and name[0] in "BI":
        return f"{name!r} is a tag, not an entity type: use {name[2:]!r}"
    return None


def valid_colour(colour: str) -> bool:
    """A label colour is ``#rrggbb`` (it goes into stylesheets)."""
    return isinstance(colour, str) and _COLOUR.fullmatch(colour) is not None


def safe_colour(colour: str, fallback: str = "#cccccc") -> str:
    """``colour`` if valid, else ``fallback`` (a hostile or corrupt file's colour never reaches a
    stylesheet)."""
    return colour if valid_colour(colour) else fallback
