"""Turning raw text into *atoms*, the units every other part of the lexicon task works on.

The literature's protocol pre-splits punctuation, runs of digits and runs of Latin letters.
Here that is one vectorised pass over the code points of a string:

* a Han (or any other letter-like) character is one atom, its own code point;
* a run of digits (with ``.``/``．``/``%``/``％`` inside it) is one atom, :data:`NUM`;
* a run of Latin letters is one atom, :data:`LAT`;
* a run of one repeated punctuation/symbol character (``——``, ``……``) is one *hard* atom:
  it is always a word of its own and no word crosses it;
* whitespace separates and is dropped.

:data:`NUM` and :data:`LAT` are private-use code points, so an *atom string* (one ``str``
character per atom) is an ordinary Python string: ``"\\ue000年"`` is "<number>年". Private-use
characters in the input are symbols (category ``Co``), hence hard atoms, so they never clash.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

NUM = 0xE000  #: atom code of a run of digits
LAT = 0xE001  #: atom code of a run of Latin letters
#: how NUM/LAT are written in TSV files and printed
ATOM_NAMES = {chr(NUM): "<NUM>", chr(LAT): "<LAT>"}

# character classes
SPACE, CHAR, DIGIT, JOINER, LATIN, PUNCT = 0, 1, 2, 3, 4, 5
_DIGITS = set("0123456789０１２３４５６７８９")
_JOINERS = set(".．%％")
_LATIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_LATIN |= {chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}
#: symbols that are parts of words in Chinese text (○ in 二○○一年, the ideographic zero)
_WORDLIKE = set("○〇")


def _classify_one(ch: str) -> int:
    if ch in _DIGITS:
        return DIGIT
    if ch in _JOINERS:
        return JOINER
    if ch in _LATIN:
        return LATIN
    if ch in _WORDLIKE:
        return CHAR
    cat = unicodedata.category(ch)
    if cat[0] == "Z" or ch in "\t\n\r\x0b\x0c\ufeff":
        return SPACE
    if cat[0] in "PSC":
        return PUNCT
    return CHAR  # letters (Han, kana, hangul, other scripts' letters) and marks


_BMP_CLASSES: np.ndarray | None = None


def classify(cps: np.ndarray) -> np.ndarray:
    """Class (SPACE, CHAR, DIGIT, JOINER, LATIN, PUNCT) of each code point. ``(N,) → (N,) uint8``."""
    global _BMP_CLASSES
    if _BMP_CLASSES is None:  # built once: 65,536 unicodedata look-ups, ~50 ms
        _BMP_CLASSES = np.array([_classify_one(chr(i)) for i in range(0x10000)], dtype=np.uint8)
    out = np.empty(len(cps), dtype=np.uint8)
    bmp = cps < 0x10000
    out[bmp] = _BMP_CLASSES[cps[bmp]]
    if not bmp.all():  # astral characters are rare: classify the distinct ones in Python
        astral = cps[~bmp]
        uniq, inv = np.unique(astral, return_inverse=True)
        out[~bmp] = np.array([_classify_one(chr(int(c))) for c in uniq], dtype=np.uint8)[inv]
    return out


def codepoints(text: str) -> np.ndarray:
    """The code points of ``text`` as ``int64``, without a Python loop. ``→ (len(text),)``."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def atom_string(codes: np.ndarray) -> str:
    """Inverse of :func:`codepoints`: the string whose characters are ``codes``."""
    return np.asarray(codes, dtype=np.uint32).tobytes().decode("utf-32-le")


def display(word: str) -> str:
    """An atom string for people and TSV files: NUM/LAT atoms become ``<NUM>``/``<LAT>``."""
    for k, v in ATOM_NAMES.items():
        word = word.replace(k, v)
    return word


def parse_display(word: str) -> str:
    """Inverse of :func:`display`."""
    for k, v in ATOM_NAMES.items():
        word = word.replace(v, k)
    return word


@dataclass
class Atoms:
    """The atoms of one text. All arrays have shape ``(A,)``, one entry per atom.

    ``codes``: atom code (code point, or NUM/LAT); ``start``/``end``: character offsets of the
    atom in the text (``end`` exclusive); ``hard``: punctuation atoms (always a word of their
    own); ``chunk``: index of the maximal run of soft atoms the atom belongs to (hard atoms get
    their own chunk), so a word never spans two chunks.
    """

    codes: np.ndarray
    start: np.ndarray
    end: np.ndarray
    hard: np.ndarray
    chunk: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


def atomize(text: str) -> Atoms:
    """Split ``text`` into atoms (see the module docstring), vectorised over characters."""
    cps = codepoints(text)
    cls = classify(cps)
    n = len(cps)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return Atoms(z, z, z, z.astype(bool), z)
    # a joiner (., %) belongs to a number only next to a digit run; otherwise it is punctuation
    prev_cls = np.r_[SPACE, cls[:-1]]
    next_cls = np.r_[cls[1:], SPACE]
    joiner = cls == JOINER
    num_like = (cls == DIGIT) | (joiner & ((prev_cls == DIGIT) | (next_cls == DIGIT)))
    cls = np.where(joiner & ~num_like, PUNCT, cls)
    cls = np.where(num_like, DIGIT, cls).astype(np.uint8)
    prev_cls = np.r_[SPACE, cls[:-1]]
    prev_cp = np.r_[-1, cps[:-1]]
    # a new atom starts at a class change, at every CHAR, and where a punctuation run changes char
    new_atom = (cls != prev_cls) | (cls == CHAR) | ((cls == PUNCT) & (cps != prev_cp))
    new_atom &= cls != SPACE
    start = np.flatnonzero(new_atom)
    atom_cls = cls[start]
    # each atom runs until the next atom start or the next space, whichever comes first
    bound = np.flatnonzero(new_atom | (cls == SPACE))
    bound = np.r_[bound, n]
    end = bound[np.searchsorted(bound, start, side="right")]
    codes = cps[start].copy()
    codes[atom_cls == DIGIT] = NUM
    codes[atom_cls == LATIN] = LAT
    hard = atom_cls == PUNCT
    # chunks: break before/after hard atoms and wherever whitespace lies between two atoms
    gap = np.r_[True, start[1:] != end[:-1]]
    brk = gap | hard | np.r_[True, hard[:-1]]
    chunk = np.cumsum(brk) - 1
    return Atoms(codes, start, end, hard, chunk)


def chunk_strings(text: str) -> list[str]:
    """The soft-atom chunks of ``text`` as atom strings (hard atoms dropped): what is counted."""
    atoms = atomize(text)
    soft = ~atoms.hard
    if not soft.any():
        return []
    codes, chunk = atoms.codes[soft], atoms.chunk[soft]
    cut = np.flatnonzero(np.diff(chunk)) + 1
    joined = atom_string(codes)
    bounds = np.r_[0, cut, len(codes)]
    return [joined[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())]
