"""``lit-gen bench SUBCOMMAND``: run benchmark suites, and write and read their results.

The suite subcommands (run, plan, report, rescore, compare, list, status) are in
:mod:`lit_gen.bench.commands`; the tools that read run folders and leaderboards (curves, inspect,
agreement) in :mod:`lit_gen.bench.tools`. Without a subcommand, ``lit-gen bench [options]`` runs,
and the flag form of the other commands (``--list``, ``--report``, ``--rescore``, ``--compare``,
``--plan``) still works for one release, with a note naming the subcommand to use instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from lit_gen.bench import commands
from lit_gen.bench.commands import WORK_ENV, UsageError


class SuiteCommand(NamedTuple):
    """A subcommand on a suite: its one-line help, handler and options."""

    help: str
    handler: str  # the function of lit_gen.bench.commands that does it
    options: tuple[str, ...]  # its option groups (OPTION_GROUPS)


SUITE_COMMANDS: dict[str, SuiteCommand] = {
    "run": SuiteCommand(
        ("train and measure a suite's entries, skipping finished runs and resuming killed ones "
         "(the default without a subcommand)"),
        "run", ("suite", "seeds", "placement", "out", "work", "running")),
    "plan": SuiteCommand(
        ("print one self-contained `lit-gen bench run` command per run still to do, for a job array "
         "or `xargs -P` (docs/scale-out.md)"),
        "plan", ("suite", "seeds", "placement", "out", "work", "running", "plan_file")),
    "report": SuiteCommand("rebuild the leaderboard from the result files already on disk",
                           "report", ("suite_only", "placement", "out", "readme")),
    "rescore": SuiteCommand(
        ("add the metrics an entry lists and a finished run lacks, computed on the run's saved weights "
         "without training"),
        "rescore", ("suite", "seeds", "out", "work")),
    "compare": SuiteCommand("compare two entries' results seed by seed (values, means, an exact permutation test)",
                            "compare", ("entries", "metric", "suite_only", "out")),
    "list": SuiteCommand("list a suite's entries", "list_entries", ("suite",)),
    "status": SuiteCommand(
        ("say where each run stands: done, running, partly trained (and how far), stale or pending, "
         "from the results and work folders"),
        "status", ("suite", "seeds", "placement", "out", "work")),
}
# name -> (one-line help, module with add_arguments(parser) and main(args))
TOOLS: dict[str, tuple[str, str]] = {
    "curves": ("print the validation curves of an entry's runs from their TensorBoard logs",
               "lit_gen.bench.tools.curves"),
    "inspect": ("a ClusterVAE entry's restarts and the test contingency table of each kept run",
                "lit_gen.bench.tools.inspect"),
    "agreement": ("do two metrics of a leaderboard rank its entries the same way?", "lit_gen.bench.tools.agreement"),
}
# the deprecated flags -> the subcommand that replaces them, first match wins, as the flags were
# once checked (any other flag form is a run)
FLAG_COMMANDS = {"list": "list", "compare": "compare", "metric": "compare", "plan": "plan", "plan_file": "plan --file",
                 "report": "report", "rescore": "rescore"}


def _suite(p: argparse.ArgumentParser, only: bool = True) -> None:
    p.add_argument("--suite", default="quick", help="suite name or folder (default: quick)")
    if only:
        p.add_argument("--only", nargs="+", metavar="NAME",
                       help="only these entries (default: every entry of the suite)")
    p.add_argument("--root", default=None,
                   help="project root holding benchmarks/ and configs/ (default: the nearest folder at or above "
                        "the current one that holds benchmarks/suites)")


def _seeds(p: argparse.ArgumentParser) -> None:
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int,
                       help="use seeds 0..N-1 instead of each entry's seeds (default: each entry's own seeds)")
    seeds.add_argument("--seed", type=int, nargs="+", metavar="S",
                       help="exactly these seeds (e.g. one seed per process, to run an entry's seeds side by "
                            "side) (default: each entry's own seeds)")


def _placement(p: argparse.ArgumentParser) -> None:
    p.add_argument("--devices", type=int, default=1, help="devices per run; > 1 uses DDP (default 1)")
    p.add_argument("--num_nodes", "--num-nodes", type=int, default=1,
                   help="machines per run (Lightning's Trainer(num_nodes)); start the same command on each, "
                        "e.g. with srun or torchrun: Lightning's cluster environments (SLURM, TorchElastic, "
                        "LSF, Kubeflow, or MASTER_ADDR/MASTER_PORT/NODE_RANK) join them (default 1)")
    p.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto ... (default cpu)")


def _out(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="results folder (default: benchmarks/results)")


def _work(p: argparse.ArgumentParser) -> None:
    p.add_argument("--work", default=None, metavar="DIR",
                   help="the runs' work folders (checkpoints, logs) go under DIR/<suite>/<entry>/seed=N instead "
                        "of <out>/<suite>/work/<entry>/seed=N, e.g. on local disk while --out is shared; "
                        f"resume and rescore look there too (default: ${WORK_ENV} if set)")


def _running(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strategy", default=None,
                   help="Lightning strategy for every run (default: the entry's, else ddp when "
                        "devices x num_nodes > 1)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="skip runs with a valid result of the same configuration and continue interrupted fits "
                        "from their last epoch-end checkpoint (default on); --no-resume reruns everything from scratch")
    p.add_argument("--claim-timeout", type=float, default=None, metavar="SECONDS",
                   help="a run claimed by a worker whose heartbeat stopped this long ago is taken over "
                        "(default 600; a worker killed on this machine is noticed at once)")


def _plan_file(p: argparse.ArgumentParser, *names: str) -> None:
    p.add_argument(*(names or ("--file", "--plan-file")), dest="plan_file", default=None, metavar="F",
                   help="write the commands to F (one a line) instead of printing them (default: print them)")


def _readme(p: argparse.ArgumentParser) -> None:
    p.add_argument("--readme", default=None, metavar="FILE",
                   help="also put the leaderboard table between the markers <!-- leaderboard:SUITE --> and "
                        "<!-- /leaderboard:SUITE --> of FILE (default: none)")


def _entries(p: argparse.ArgumentParser) -> None:
    p.add_argument("compare", nargs=2, metavar="ENTRY", help="the two entries to compare, A then B")


def _metric(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--metric", required=required, default=None,
                   help="the metric to compare, e.g. test_error" + ("" if required else " (default: none)"))


OPTION_GROUPS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "suite": _suite, "suite_only": lambda p: _suite(p, only=False), "seeds": _seeds, "placement": _placement,
    "out": _out, "work": _work, "running": _running, "plan_file": _plan_file, "readme": _readme,
    "entries": _entries, "metric": _metric,
}


def build_parser() -> argparse.ArgumentParser:
    """The ``lit-gen bench SUBCOMMAND`` parser; ``args.command`` names the subcommand."""
    parser = argparse.ArgumentParser(
        prog="lit-gen bench",
        description="Train and evaluate the entries of a benchmark suite (benchmarks/suites/<suite>/*.yaml), write "
                    "per-run JSON results, leaderboard.{md,csv,json}, per-family figures and the headline table, "
                    "and read them back. Finished runs whose configuration hash matches are skipped, and a "
                    "killed run continues from its last epoch-end checkpoint.",
        epilog="Without a subcommand, `lit-gen bench [run options]` runs. The flag forms --list, --report, "
               "--rescore, --compare and --plan still work for one release, with a deprecation note.")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for name, spec in SUITE_COMMANDS.items():
        command = sub.add_parser(name, help=spec.help, description=spec.help[0].upper() + spec.help[1:] + ".")
        for group in spec.options:
            OPTION_GROUPS[group](command)
    for name, (text, module) in TOOLS.items():
        tool = importlib.import_module(module)
        command = sub.add_parser(name, help=text, description=tool.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        tool.add_arguments(command)
    return parser


def flag_form_parser() -> argparse.ArgumentParser:
    """The deprecated ``lit-gen bench [--list|--report|...] [options]`` parser: every option of
    the suite subcommands, plus the flags that chose among them."""
    parser = argparse.ArgumentParser(prog="lit-gen bench", description="Deprecated flag form of `lit-gen bench "
                                     "SUBCOMMAND`; see `lit-gen bench --help`. Without a flag below, it runs.")
    for group in ("suite", "seeds", "placement", "out", "work", "running", "readme"):
        OPTION_GROUPS[group](parser)
    _plan_file(parser, "--plan-file")
    _metric(parser, required=False)
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"), help="use `lit-gen bench compare` (default: off)")
    for flag in ("list", "plan", "report", "rescore"):
        parser.add_argument(f"--{flag}", action="store_true", help=f"use `lit-gen bench {flag}`")
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """Subcommand arguments, or the flag form's with ``command`` set (and a note when deprecated)."""
    if argv and (not argv[0].startswith("-") or argv[0] in ("-h", "--help")):
        return build_parser().parse_args(argv)
    args = flag_form_parser().parse_args(argv)
    used = [flag for flag in FLAG_COMMANDS if getattr(args, flag)]
    args.command = FLAG_COMMANDS[used[0]].split()[0] if used else "run"
    if used:
        flag = "--" + used[0].replace("_", "-")
        print(f"note: `lit-gen bench {flag}` is deprecated; use `lit-gen bench {FLAG_COMMANDS[used[0]]}`",
              file=sys.stderr)
    return args


def main(argv: Sequence[str] = ()) -> int:
    args = _parse(list(argv))
    if args.command in TOOLS:
        return importlib.import_module(TOOLS[args.command][1]).main(args)
    try:
        return getattr(commands, SUITE_COMMANDS[args.command].handler)(args)
    except UsageError as err:
        print(f"lit-gen bench: {err}", file=sys.stderr)
        return 2
