"""One-paragraph error reports for the ``lit-gen`` command.

A configuration, validation or data error (a bad option value, a constructor's ``ValueError``, a
missing or damaged file) is the user's to fix: the command prints what is wrong, the allowed
values or the file, and the fix, in at most :data:`MAX_LINES` lines, and exits with code 2. A
traceback would bury that message (a bad ``--model.*`` value surfaced on line 26 of one).
What counts: lit-gen's data and configuration errors, a missing file, a value the option parser
refused, and a ``ValueError``/``TypeError``/``KeyError`` from a ``raise`` statement in lit-gen's
code (a constructor's check). Anything else is a bug and keeps its traceback; ``--debug`` or
``LIT_GEN_DEBUG=1`` shows the traceback of every error.
"""

from __future__ import annotations

import linecache
import os
import textwrap
from pathlib import Path

import lit_gen

MAX_LINES = 10
WIDTH = 100
PACKAGE_DIR = Path(lit_gen.__file__).resolve().parent
DEBUG_HINT = "(--debug or LIT_GEN_DEBUG=1 shows the traceback)"


class LitGenConfigError(ValueError):
    """A setting is missing or wrong for what was asked; the message names it and the fix."""


# the data layer's errors live here, at the bottom, so this reporter need not import lit_gen.data;
# lit_gen.data.errors is where the data code imports them from
class LitGenDataError(RuntimeError):
    """Base class of lit-gen's data errors."""


class DataNotFoundError(LitGenDataError, FileNotFoundError):
    """No place that was tried holds the data set; the message lists them and the fixes."""


class CorruptDataError(LitGenDataError, ValueError):
    """A file exists but is damaged (truncated, wrong format, undecodable)."""


def debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("LIT_GEN_DEBUG", "") not in ("", "0", "false")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first (no cycles)."""
    seen: list[BaseException] = []
    while exc is not None and all(exc is not e for e in seen):
        seen.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return seen


def _raised_by_lit_gen(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a ``raise`` statement in lit-gen's own code: a check that
    refused an input. A ``ValueError`` raised implicitly (a failed unpacking, ``int("x")``) in
    our code is a bug and keeps its traceback."""
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    try:
        ours = Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    except (OSError, ValueError):
        return False
    return ours and linecache.getline(filename, tb.tb_lineno).lstrip().startswith("raise")


def _is_argument_error(exc: BaseException) -> bool:
    # jsonargparse's ArgumentError (a subclass of argparse's): a value the parser refused
    import argparse

    return isinstance(exc, argparse.ArgumentError) or type(exc).__module__.startswith("jsonargparse")


def user_error(exc: BaseException) -> BaseException | None:
    """The exception to report as a user error (innermost first), or None for a bug."""
    chain = _chain(exc)
    for e in reversed(chain):
        if isinstance(e, (LitGenDataError, LitGenConfigError, FileNotFoundError)):
            return e
        if isinstance(e, (ValueError, TypeError, KeyError, UnicodeError)) and _raised_by_lit_gen(e):
            return e
    for e in chain:
        if _is_argument_error(e):
            return e
    return None


# jsonargparse's union-type report repeats the value and lists the alternatives it tried: the
# reason is the nested "Parser key ... / Expected ..." lines; these lines only add noise.
_NOISE = ("Does not validate against any of the Union subtypes", "Subtypes:", "Errors:",
          "Given value type:", "Given value:", "- Expected a <class 'NoneType'>")


def _message(exc: BaseException) -> list[str]:
    text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    lines = [ln.rstrip() for ln in str(text).splitlines() if ln.strip()]
    if _is_argument_error(exc):
        lines = [ln.replace("- Problem with given class_path", "class_path") for ln in lines
                 if not ln.strip().startswith(_NOISE)]
    return lines or [type(exc).__name__]


def _fix(exc: BaseException, command: str) -> str | None:
    if isinstance(exc, (DataNotFoundError, LitGenConfigError)):
        return None  # their messages carry the fix
    if isinstance(exc, LitGenDataError):
        return ("fix: replace the damaged file named above with a good copy (or point --data.root "
                "or LIT_GEN_DATA at one).")
    if _is_argument_error(exc) or command in ("fit", "validate", "test", "predict"):
        return (f"fix: change that value in the config file or on the command line; `lit-gen {command} "
                "--help` lists the options and their types.")
    return f"fix: change that input or option; `lit-gen {command} --help` lists them."


def format_error(exc: BaseException, command: str) -> str:
    """At most :data:`MAX_LINES` lines: ``lit-gen COMMAND: error: …``, the fix, the debug hint."""
    lines: list[str] = []
    body = _message(exc)
    body[0] = f"lit-gen {command}: error: {body[0]}"
    for line in body:
        indent = line[:len(line) - len(line.lstrip())]
        # paths and option names are never cut in two
        lines += textwrap.wrap(line, WIDTH, subsequent_indent=indent + "  ", break_long_words=False,
                               break_on_hyphens=False) or [line]
    tail = [t for t in (_fix(exc, command), DEBUG_HINT) if t]
    tail = [w for t in tail for w in textwrap.wrap(t, WIDTH)]
    room = MAX_LINES - len(tail)
    if len(lines) > room:
        lines = lines[:room - 1] + ["  …"]
    return "\n".join(lines + tail)
