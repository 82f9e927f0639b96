"""Level and oblique tones (平仄) for the tone rule 仄起平收 of a couplet's last characters.

A couplet's upper line traditionally ends on an oblique tone (仄) and the lower line on a level
tone (平). We read tones from modern Mandarin (新韵, via pypinyin's most common reading of each
character): tones 1 and 2 are level, tones 3 and 4 oblique. Classical poetry uses the Middle
Chinese tones instead (入声 characters such as 白, 国 are oblique there but level in Mandarin), so
this is the modern convention, the one most couplet writers and checkers use today.

The rule we check and can enforce is the general one behind 仄起平收: the last characters of the
two lines have opposite tone classes (an upper 仄 wants a lower 平, and an upper line that ends
on 平 wants a 仄). Characters without a tone (punctuation, neutral tone, unknown) leave the pair
unconstrained.
"""

from __future__ import annotations

from functools import lru_cache

from lit_gen.tasks.couplet.text import is_punct

LEVEL, OBLIQUE = "ping", "ze"


def _pinyin():
    try:
        from pypinyin import Style, pinyin
    except ImportError:  # a core dependency; only a broken install lands here
        raise ImportError("the couplet tone rule needs pypinyin: pip install pypinyin") from None
    return pinyin, Style


@lru_cache(maxsize=65536)
def tone_class(ch: str) -> str | None:
    """``"ping"`` (tones 1, 2), ``"ze"`` (tones 3, 4) or None (no tone: punctuation, 轻声, unknown)."""
    if len(ch) != 1 or is_punct(ch):
        return None
    pinyin, style = _pinyin()
    reading = pinyin(ch, style=style.TONE3, heteronym=False, neutral_tone_with_five=True)[0][0]
    tone = reading[-1:]
    return LEVEL if tone in ("1", "2") else OBLIQUE if tone in ("3", "4") else None


def last_toned_position(line: str) -> int | None:
    """Index of the line's last non-punctuation character (None for an all-punctuation line)."""
    for i in range(len(line) - 1, -1, -1):
        if not is_punct(line[i]):
            return i
    return None


def wanted_ending(upper: str) -> str | None:
    """The tone class the lower line's last character should have: opposite to the upper's."""
    i = last_toned_position(upper)
    tone = tone_class(upper[i]) if i is not None else None
    return None if tone is None else (LEVEL if tone == OBLIQUE else OBLIQUE)


def tone_ending_ok(upper: str, lower: str) -> bool:
    """The pair passes 仄起平收 (opposite tone classes at the end), or it does not apply."""
    want = wanted_ending(upper)
    i = last_toned_position(lower)
    if want is None or i is None:
        return True
    have = tone_class(lower[i])
    return have is None or have == want
