"""Character offsets as a file counts them, made character offsets nerstudio can use: offsets in
UTF-16 code units (older Label Studio, anything written in JavaScript) detected and converted
(:func:`offset_units`), span edges inside a character cluster moved out (:func:`whole_graphemes`).
Used by the doccano and Label Studio readers (formats.offsets)."""
from __future__ import annotations

import unicodedata
from bisect import bisect_left, bisect_right

from ..tokenize import grapheme_bounds

CharSpan = tuple[int, int, str]


def offset_units(text: str, spans: list[CharSpan], quoted: list | None, fail) -> tuple:
    """``(spans, converted)``: the spans in character offsets, and whether they were read as
    UTF-16 code units. The two counts differ only after a character outside the BMP (an emoji:
    one character, two UTF-16 units), so a text without one is never touched.

    The rule: with the spans' own text (``quoted``: Label Studio's ``value.text``), offsets are
    characters when they cut that text out, UTF-16 units when converted they do, and refused
    when neither. Without it (doccano), offsets are characters when every span starts and ends
    at a word edge (:func:`_all_fit`), UTF-16 units when only converted they all do, and refused
    when neither (a span cut inside a word after an emoji is the symptom of a unit mismatch)."""
    if text.isascii() or not spans or not _int_offsets(spans) \
            or not any(ord(c) > 0xFFFF for c in text):
        return spans, False
    table = _utf16_table(text)
    as16 = [(table.get(s), table.get(e), label) for s, e, label in spans]
    fits16 = all(a is not None and b is not None for a, b, _label in as16)
    if quoted is not None and all(isinstance(q, str) for q in quoted):
        def same(sp):
            return [text[a:b].strip() for a, b, _label in sp] == [q.strip() for q in quoted]
        if same(spans):
            return spans, False
        if fits16 and same(as16):
            return as16, True
        fail("span offsets cut out the region's value.text neither as characters nor as "
             "UTF-16 code units")
    if _all_fit(text, spans):
        return spans, False
    if fits16 and _all_fit(text, as16):
        return as16, True
    fail("span offsets cut words both read as characters and as UTF-16 code units (the text "
         "has characters outside the BMP, e.g. emoji, where the two counts differ)")


def _int_offsets(spans) -> bool:
    return all(isinstance(x, int) and not isinstance(x, bool) for s, e, _l in spans for x in (s, e))


def _utf16_table(text: str) -> dict[int, int]:
    """UTF-16 offset -> character offset, for every offset between two characters (an offset
    inside a surrogate pair has none)."""
    table, units = {}, 0
    for i, c in enumerate(text):
        table[units] = i
        units += 2 if ord(c) > 0xFFFF else 1
    table[units] = len(text)
    return table


def _all_fit(text: str, spans: list[CharSpan]) -> bool:
    """Every span fits (:func:`_fits`) once widened to whole characters."""
    return all(_fits(text, s, e) for s, e, _label in whole_graphemes(text, spans)[0])


def _fits(text: str, s: int, e: int) -> bool:
    """``[s, e)`` lies in ``text``, has no space at either end and cuts no word in two."""
    if not 0 <= s < e <= len(text) or text[s:e] != text[s:e].strip():
        return False
    return not (_inside_word(text, s) or _inside_word(text, e))


def _inside_word(text: str, i: int) -> bool:
    return 0 < i < len(text) and _wordy(text[i - 1]) and _wordy(text[i])


def _wordy(c: str) -> bool:
    return c.isalnum() or unicodedata.category(c)[0] == "M"


def whole_graphemes(text: str, spans: list[CharSpan]) -> tuple[list[CharSpan], int]:
    """``(spans, moved)``: every span edge that falls inside a character cluster (between a
    letter and its combining accent, inside a ZWJ emoji sequence) moved outwards to the
    cluster's edge, so no token is ever half a character; ``moved`` counts the edges moved."""
    if text.isascii() or not _int_offsets(spans):
        return spans, 0
    bounds = sorted(grapheme_bounds(text))
    edges, out, moved = set(bounds), [], 0
    for s, e, label in spans:
        if 0 <= s < e <= len(text):
            s2 = s if s in edges else bounds[bisect_right(bounds, s) - 1]
            e2 = e if e in edges else bounds[bisect_left(bounds, e)]
            moved += (s2 != s) + (e2 != e)
            s, e = s2, e2
        out.append((s, e, label))
    return out, moved
