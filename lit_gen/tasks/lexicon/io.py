"""Reading text files for the lexicon task: encodings, formats, and clear errors.

Formats: ``raw`` (lines as they are), ``segmented`` (words separated by whitespace, as the
SIGHAN gold files), ``pfr`` (People's Daily ``word/POS`` tokens with ``[...]nt`` brackets, as
``pfr-199801``). Files may be gzipped (``.gz``). Anything that is not text in the declared
encoding is refused with a message naming the file and the fix, before anything is written.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path
from typing import Literal

from lit_gen.data.errors import CorruptDataError, DataNotFoundError
from lit_gen.utils.textio import split_lines

Format = Literal["raw", "segmented", "pfr"]
#: longest line accepted (characters); one line is segmented as one block in memory
MAX_LINE_CHARS = 2_000_000
_PFR_TAG = re.compile(r"/[A-Za-z]+|\][A-Za-z]*|\[")  # word/POS, [phrase ...]nt


def resolve(path: str | os.PathLike, data_root: str | None = None) -> Path:
    """``path`` as given, else under ``data_root`` / ``$LIT_GEN_DATA``; a clear error if absent."""
    p = Path(os.path.expandvars(str(path))).expanduser()
    if p.is_file():
        return p
    root = data_root or os.environ.get("LIT_GEN_DATA")
    tried = [str(p)]
    if root and not p.is_absolute():
        q = Path(root) / p
        if q.is_file():
            return q
        tried.append(str(q))
    raise DataNotFoundError(f"text file not found: tried {', '.join(tried)} (set LIT_GEN_DATA or give a full path)")


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The decoded content of a text file; refuses binary files and wrong encodings by name."""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise CorruptDataError(f"cannot read {path}: {err}") from None
    if b"\x00" in raw[:65536] and not encoding.lower().startswith("utf-16"):
        raise CorruptDataError(f"{path} looks binary (it holds NUL bytes), not {encoding} text")
    try:
        return raw.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as err:
        hint = ""
        if encoding.lower().replace("-", "") in ("utf8", "utf8sig"):
            try:
                raw.decode("gb18030")
                hint = "; it decodes as GBK/GB18030: pass encoding=gb18030 (CLI: --encoding gb18030)"
            except UnicodeDecodeError:
                hint = "; it is neither UTF-8 nor GBK text"
        raise CorruptDataError(f"{path} is not valid {encoding} (byte {err.start}){hint}") from None
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r} for {path}") from None


def parse_lines(text: str, fmt: Format, source: str = "<text>",
                keep_blank: bool = False) -> list[list[str]] | list[str]:
    """Raw lines (``raw``) or lines of words (``segmented``/``pfr``).

    Blank lines (and PFR lines holding only a document id) are dropped, unless ``keep_blank``:
    then there is one entry per line of the file (``""`` or ``[]`` for a blank one), lines being
    cut at ``\n`` only (:func:`lit_gen.utils.textio.split_lines`). Line numbers in errors are
    the file's.
    """
    lines = split_lines(text) if keep_blank else text.splitlines()
    for number, ln in enumerate(lines, start=1):
        if len(ln) > MAX_LINE_CHARS:
            raise CorruptDataError(
                f"{source}: line {number} has {len(ln):,} characters (limit {MAX_LINE_CHARS:,}); "
                "split the text into lines (paragraphs or sentences) first"
            )
    if not keep_blank:
        lines = [ln for ln in lines if ln.strip()]
    if fmt == "raw":
        return [ln.strip() for ln in lines]
    if fmt == "segmented":
        return [ln.split() for ln in lines]
    if fmt == "pfr":
        out = []
        for ln in lines:
            words = [_PFR_TAG.sub("", tok) for tok in ln.split()]
            # the first token of each PFR line is a document id (19980101-01-001-001/m)
            if words and re.fullmatch(r"\d{8}-\d{2}-\d{3}-\d{3}", words[0]):
                words = words[1:]
            out.append([w for w in words if w])
        return out if keep_blank else [ws for ws in out if ws]
    raise ValueError(f"unknown text format {fmt!r}; expected raw, segmented or pfr")


def read_lines(path: str | os.PathLike, fmt: Format = "raw", encoding: str = "utf-8",
               data_root: str | None = None, keep_blank: bool = False) -> list:
    """Read one file in ``fmt``; see :func:`parse_lines`."""
    p = resolve(path, data_root)
    return parse_lines(read_text(p, encoding), fmt, str(p), keep_blank)


def raw_of(lines: list) -> list[str]:
    """The raw text of segmented lines (words joined without spaces); raw lines unchanged."""
    return ["".join(ln) if isinstance(ln, list) else ln for ln in lines]
