"""Lines of a text file as a user counts them (``wc -l``, an editor's line numbers).

``str.splitlines`` also breaks at form feeds, ``\\x1c``–``\\x1e``, ``\\x85``, ``\\u2028`` and
``\\u2029``; a command that promises one output line per input line must break at ``\\n`` only.
"""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """``text`` cut at ``\\n``: a ``\\r`` before it (CRLF files) and a leading byte-order mark
    are dropped; a last line without ``\\n`` counts, a final ``\\n`` opens no new line.

    ``"a\\r\\n\\nb" → ["a", "", "b"]``; ``"" → []``.
    """
    text = text.removeprefix("\ufeff")
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]
