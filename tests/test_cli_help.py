"""Every option of every lit-gen command has a help line that says what it does and, when it
takes a value that has a default, what the default is."""

from __future__ import annotations

import argparse
import importlib

import pytest

from lit_gen.cli import COMMANDS


def parsers(parser: argparse.ArgumentParser, name: str):
    """``(name, parser)`` for ``parser`` and, recursively, each of its subcommands."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """Options without help, and value options whose help does not give the default."""
    bad = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        text = action.help or ""
        if not text.strip() or text == argparse.SUPPRESS:
            bad.append(f"{name}: no help")
        elif (action.option_strings and action.nargs != 0 and not action.required
              and "default" not in text.lower()):
            bad.append(f"{name}: help does not say the default")
    return bad


def command_parser(command: str) -> argparse.ArgumentParser:
    module = importlib.import_module(COMMANDS[command][1].split(":")[0])
    return module.build_parser()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help_with_its_default(command):
    found = {name: undocumented(p) for name, p in parsers(command_parser(command), f"lit-gen {command}")}
    assert not {name: bad for name, bad in found.items() if bad}


def test_the_check_catches_a_missing_help_and_a_missing_default():
    p = argparse.ArgumentParser()
    p.add_argument("--documented", type=int, default=3, help="a count (default: %(default)s)")
    p.add_argument("--flag", action="store_true", help="switch something on")
    p.add_argument("--bare", type=int, default=1)
    p.add_argument("--vague", type=int, default=2, help="a count")
    assert undocumented(p) == ["--bare: no help", "--vague: help does not say the default"]
