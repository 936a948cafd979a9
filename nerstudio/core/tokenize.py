"""Raw text to Tokens with character offsets, and Tokens to Sentences.

Used for pasted text and for character-offset imports (doccano, Label Studio). URLs, e-mail
addresses, @mentions and #hashtags stay whole, as social-media NER data labels them. Splits
punctuation the way CoNLL-2003 does (``U.S.`` and ``1,000.5`` stay whole; ``don't`` is ``do`` + ``n't``;
``Merkel's`` is ``Merkel`` + ``'s``). Invariant: ``text[t.start:t.end] == t.text`` for every token,
whatever the script (CJK, emoji, combining marks, right-to-left).
"""
from __future__ import annotations

from collections.abc import Iterable

import regex

from .domain import Token

_W = r"[\p{L}\p{M}\p{N}_]"
_ABBREV = "mrs|mr|ms|dr|prof|st|jr|sr|vs|etc|inc|ltd|co|corp|gen|col|lt|sgt|rep|sen|gov|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec"
_URL_END = r"[^\s<>\"'.,;:!?)\]}»”’]"          # a URL does not end in sentence punctuation
_TOKEN_RE = regex.compile(
    rf"""
      (?i:https?://|ftp://|www\.)[^\s<>"']*{_URL_END}      # URLs, whole
    | [\p{{L}}\p{{N}}._%+-]+@[\p{{L}}\p{{N}}-]+(?:\.[\p{{L}}\p{{N}}-]+)*\.\p{{L}}{{2,}}  # e-mail
    | (?<!{_W})[@\#]{_W}+                        # @mention  #hashtag (social media data)
    | (?:\p{{L}}\.){{2,}}(?!\p{{L}})             # U.S.  e.g.
    | (?<!{_W})(?i:{_ABBREV})\.                  # Mr.  Inc.
    | (?i:n['’]t)(?!\p{{L}})                     # n't
    | (?<=\p{{L}})['’](?i:s|re|ve|ll|d|m)(?!\p{{L}})   # 's 're 've after a word
    | \p{{N}}+(?:[.,:/-]\p{{N}}+)*\p{{M}}*        # 1,000.5  12:30  1/2  1996-08-22
    | {_W}+?(?=(?i:n['’]t)(?!\p{{L}}))           # "do" of "don't"
    | {_W}+(?:[-&]{_W}+)*                        # words, hyphenated words
    | \.{{2,}}                                   # ellipsis
    | (?![\s\x1c-\x1f])\X                                # any other grapheme: punctuation, emoji
    """,
    regex.VERBOSE,
)

_BLANK_LINE = regex.compile(r"\n[ \t\r]*\n")
_GRAPHEME = regex.compile(r"\X")
_LINE_BREAK = regex.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")  # str.splitlines' breaks
_SENTENCE_END = {".", "!", "?", "...", "…", "。", "！", "？"}
_CLOSERS = {'"', "'", "”", "’", ")", "]", "»"}
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd",
                  "co", "corp", "gen", "col", "lt", "sgt", "rep", "sen", "gov", "no", "jan", "feb",
                  "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e"}


def tokenize(text: str, boundaries: Iterable[int] = ()) -> list[Token]:
    """Split ``text`` into Tokens. ``boundaries`` are character offsets where a token must begin or
    end (entity edges from a character-offset import), splitting a token that straddles one."""
    graphemes = None if text.isascii() else grapheme_bounds(text)
    cuts = sorted(c for c in set(boundaries) if graphemes is None or c in graphemes)
    tokens = []
    for m in _TOKEN_RE.finditer(text):
        start, end = m.span()
        inner = [c for c in cuts if start < c < end] if cuts else []
        for s, e in zip([start] + inner, inner + [end]):
            if graphemes is not None and tokens and tokens[-1].end == s and s not in graphemes:
                s = tokens.pop().start  # never split a character cluster (a mark after U.S.)
            tokens.append(Token(text[s:e], s, e))
    return tokens


def grapheme_bounds(text: str) -> set[int]:
    """Offsets where a user-perceived character (``\\X``: a letter with its combining marks, a
    ZWJ emoji sequence, a flag) begins, and ``len(text)``: the only places a token or a span
    may start or end."""
    return {m.start() for m in _GRAPHEME.finditer(text)} | {len(text)}


def _ends_sentence(tokens: list[Token], i: int, text: str, lines: bool = False) -> bool:
    tok = tokens[i]
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    gap = text[tok.end:nxt.start]
    if _BLANK_LINE.search(gap) or (lines and _LINE_BREAK.search(gap)):
        return True
    if tok.text in _CLOSERS and i > 0 and tokens[i - 1].text in _SENTENCE_END:
        tok_is_end = True
    else:
        tok_is_end = tok.text in _SENTENCE_END
    if not tok_is_end or not gap:
        return False
    if tok.text == "." and i > 0:
        prev = tokens[i - 1]
        if prev.end == tok.start and (prev.text.lower() in _ABBREVIATIONS
                                      or (len(prev.text) == 1 and prev.text.isupper())):
            return False
    first = nxt.text[0]
    return first.isupper() or first.isdigit() or first in "\"'“‘([«" or not first.isascii()


def split_sentences(text: str, tokens: list[Token] | None = None, *,
                    lines: bool = False) -> list[list[Token]]:
    """Group the tokens of ``text`` into sentences (offsets stay relative to ``text``).

    A sentence ends at . ! ? (and a closing quote after one) followed by a capital, a digit or an
    opening quote, unless the period ends a known abbreviation or an initial; a blank line always
    ends one. ``lines``: every line break ends one too (pasted lines are sentences of their own;
    an imported document may be hard-wrapped mid-sentence, so that is not the default)."""
    tokens = tokenize(text) if tokens is None else tokens
    sentences, current = [], []
    for i, tok in enumerate(tokens):
        current.append(tok)
        if _ends_sentence(tokens, i, text, lines):
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def rebase(tokens: list[Token], text: str) -> tuple[str, list[Token]]:
    """Cut the sentence covered by ``tokens`` out of ``text``; offsets become sentence-relative."""
    if not tokens:
        return "", []
    base = tokens[0].start
    return text[base:tokens[-1].end], [Token(t.text, t.start - base, t.end - base) for t in tokens]
