"""Where the token editor's chips go: text-like flow layout as plain Python over integer widths.

Why a module of its own: the layout is pure geometry (no Qt call per token), so a 50,000-token
sentence lays out in milliseconds and the rules (wrapping, the incremental re-flow after an
edit, which lines to repaint) can be tested without a widget. The widget (token_editor.py)
keeps the results: a left edge per token, the first token and top of each line."""
from __future__ import annotations

from bisect import bisect_left, bisect_right

MARGIN = 10     # around the whole flow
SPACING = 6     # between chips and between lines
PAD_X = 5       # border 1 + padding 4 (as the QLabel chips had): text inset from the chip edge
PAD_Y = 3       # border 1 + padding 2


def flow_lines(widths, width: int, margin: int = MARGIN, spacing: int = SPACING):
    """Left edges of boxes of ``widths`` laid out left to right, wrapping at ``width`` like text
    (a box wider than a line gets a line of its own), and the index of each line's first box.
    Plain Python over ints: no Qt call per token, so 50,000 tokens lay out in milliseconds."""
    xs, starts, x, limit = [], [], margin, width - margin
    append = xs.append
    for i, w in enumerate(widths):
        if x + w > limit and x > margin:
            starts.append(i)
            x = margin
        elif i == 0:
            starts.append(0)
        append(x)
        x += w + spacing
    return xs, starts


def reflow_lines(widths, width: int, xs: list[int], starts: list[int], lo: int, hi: int,
                 margin: int = MARGIN, spacing: int = SPACING):
    """``flow_lines`` after only ``widths[lo..hi]`` changed, given the old ``xs`` and ``starts``
    for the same ``width``. Why: a click adds or drops one label tag; re-flowing 50,000 tokens
    for it costs tens of ms. Greedy wrapping from a line start depends only on the widths from
    there on, so start one line above ``lo`` (a narrower chip may move up) and stop at the first
    line break past ``hi`` that the old layout also had: the rest is unchanged. ``xs`` is
    updated in place; returns (xs, new starts)."""
    line = max(bisect_right(starts, lo) - 2, 0)
    k = starts[line]
    new_starts = starts[:line]
    segment, x, limit = [], margin, width - margin
    for i in range(k, len(widths)):
        w = widths[i]
        if x + w > limit and x > margin:
            if i > hi:
                j = bisect_left(starts, i)
                if j < len(starts) and starts[j] == i:  # the old layout breaks here too
                    xs[k:i] = segment
                    new_starts.extend(starts[j:])
                    return xs, new_starts
            new_starts.append(i)
            x = margin
        elif i == k:
            new_starts.append(i)
        segment.append(x)
        x += w + spacing
    xs[k:] = segment
    return xs, new_starts


def changed_lines(old: list[int], new: list[int], lo: int, hi: int) -> tuple[int, int] | None:
    """Lines [first, last] to repaint after tokens lo..hi changed and the line starts went from
    ``old`` to ``new``: those holding lo..hi, and any whose first token moved. None when the
    number of lines changed (everything below moves)."""
    if len(old) != len(new):
        return None
    first, last = bisect_right(new, lo) - 1, bisect_right(new, hi) - 1
    if old != new:
        moved = [k for k in range(len(new)) if old[k] != new[k]]
        first, last = min(first, moved[0] - 1), max(last, moved[-1])
    return max(first, 0), last


def flow_height(n_lines: int, line_height: int, margin: int = MARGIN,
                spacing: int = SPACING) -> int:
    """Height of ``n_lines`` lines of chips with margins (an empty editor keeps its margins)."""
    if n_lines == 0:
        return 2 * margin
    return 2 * margin + n_lines * line_height + (n_lines - 1) * spacing
