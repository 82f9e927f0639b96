"""Character-level text helpers shared by the data, decoding, metrics and the writer.

A couplet line is a sequence of *characters* (Unicode code points). Files in the wb14123
format separate the characters with spaces; user input may or may not, so every entry point
removes all whitespace first (:func:`normalize_line`).
"""

from __future__ import annotations

import unicodedata


class CoupletInputError(ValueError):
    """A line cannot be written: empty, too long, or not Chinese text. The message says which."""


def is_punct(ch: str) -> bool:
    """Punctuation (Unicode category ``P*``), e.g. ``，。、！？；：``; copied in place by decoding."""
    return unicodedata.category(ch).startswith("P")


def normalize_line(line: str) -> str:
    """Remove all whitespace (the wb14123 files separate characters with spaces)."""
    return "".join(line.split())


def check_line(line: str, max_length: int) -> str:
    """Normalise and validate an upper line; raise :class:`CoupletInputError` with the reason.

    Rejected: empty or whitespace-only lines, lines longer than ``max_length`` characters, and
    Latin letters or digits (couplets are Chinese; ``Ａ``/``１`` full-width forms too). Other
    characters outside the vocabulary are accepted and mapped to ``<unk>`` (the writer reports them).
    """
    text = normalize_line(line)
    if not text:
        raise CoupletInputError(f"empty line {line!r}: give the upper line of a couplet, e.g. 晚风摇树树还挺")
    if len(text) > max_length:
        raise CoupletInputError(f"line of {len(text)} characters is longer than the model's maximum "
                                f"{max_length}: {text[:20]}...")
    latin = [ch for ch in text if _is_latin_or_digit(ch)]
    if latin:
        raise CoupletInputError(f"Latin letters or digits {''.join(latin[:10])!r} in {text!r}: "
                                "couplets are Chinese text; write numbers as 一二三")
    return text


def _is_latin_or_digit(ch: str) -> bool:
    if unicodedata.category(ch) == "Nd":  # any script's decimal digit
        return True
    folded = unicodedata.normalize("NFKC", ch)
    return len(folded) == 1 and folded.isascii() and folded.isalnum()


def repeat_groups(chars: str) -> list[list[int]]:
    """Positions grouped by character, punctuation excluded, in order of first occurrence.

    ``"晚风摇树树还挺" → [[0], [1], [2], [3, 4], [5], [6]]``.
    """
    groups: dict[str, list[int]] = {}
    for i, ch in enumerate(chars):
        if not is_punct(ch):
            groups.setdefault(ch, []).append(i)
    return list(groups.values())
