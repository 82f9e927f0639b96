"""What the suite subcommands of ``lit-gen bench`` do (run, plan, report, rescore, compare, list),
given their parsed arguments. The parsers are in :mod:`lit_gen.bench.cli`; a handler reads only
the options its own subcommand has, plus, through ``getattr``, a few that only the deprecated
flag form (``lit-gen bench --rescore --devices 2``) can give."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from lit_gen.bench.suite import Entry, SuiteError, available_suites, load_suite

WORK_ENV = "LIT_GEN_BENCH_WORK"  # the default of --work


class UsageError(Exception):
    """Bad arguments: ``lit-gen bench`` prints the message and exits with 2."""


@dataclass
class Suite:
    """A loaded suite and the folders its results go to."""

    name: str  # the suite folder's name, under which results are filed
    entries: list[Entry]
    root: Path  # the project root holding benchmarks/ and configs/
    out: Path  # the results folder; this suite's results are in out/<name>
    work: Path | None  # --work: where the runs' work folders go instead of out/<name>/work

    @property
    def results(self) -> Path:
        return self.out / self.name


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding ``benchmarks/suites``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "benchmarks" / "suites").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def open_suite(args: argparse.Namespace) -> Suite:
    """The suite ``--suite`` names, with ``--only`` checked against its entries."""
    root = Path(args.root).resolve() if args.root else find_root()
    try:
        entries = load_suite(args.suite, root)
    except SuiteError as err:
        raise UsageError(str(err)) from None
    unknown = sorted(set(getattr(args, "only", None) or ()) - {e.name for e in entries})
    if unknown:
        raise UsageError(f"no entries {unknown} in suite '{args.suite}'; it has: " + ", ".join(e.name for e in entries))
    out = Path(args.out) if getattr(args, "out", None) else root / "benchmarks" / "results"
    work = getattr(args, "work", None) or os.environ.get(WORK_ENV) or None
    return Suite(Path(args.suite).name, entries, root, out, Path(work).resolve() if work else None)


def _seeds_to_run(args: argparse.Namespace) -> int | list[int] | None:
    """``--seed S ...`` (exactly these), else ``--seeds N`` (0..N-1), else None (each entry's own)."""
    if getattr(args, "seeds", None) is not None and args.seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {args.seeds}")
    return getattr(args, "seed", None) or getattr(args, "seeds", None)


def _placement_of(args: argparse.Namespace) -> tuple[int, str, int]:
    """``(devices, accelerator, num_nodes)``; subcommands without these options run on one CPU."""
    return getattr(args, "devices", 1), getattr(args, "accelerator", "cpu"), getattr(args, "num_nodes", 1)


def _reproduce_command(args: argparse.Namespace, suite: Suite) -> str:
    """The command that reproduces the whole leaderboard (one entry: add --only NAME), as the
    leaderboard quotes it. It keeps the plain run spelling (``lit-gen bench --suite S``, still
    valid), so that rebuilding a committed leaderboard does not change its text."""
    devices, accelerator, nodes = _placement_of(args)
    if nodes < 1 or devices < 1:
        raise UsageError("--devices and --num_nodes must be >= 1")
    command = f"lit-gen bench --suite {shlex.quote(suite.name)}"
    if devices > 1 or accelerator != "cpu":
        command += f" --devices {devices} --accelerator {accelerator}"
    if nodes > 1:
        command += f" --num_nodes {nodes}"
    return command


def list_entries(args: argparse.Namespace) -> int:
    suite = open_suite(args)
    for e in suite.entries:
        if not args.only or e.name in args.only:
            print(f"{e.name:<32} {e.config:<36} metrics={','.join(e.metrics)} seeds={e.seeds} budget={e.budget}")
    print(f"(suites: {', '.join(available_suites(suite.root))})")
    return 0


def status(args: argparse.Namespace) -> int:
    from lit_gen.bench.status import render_status, suite_status

    suite = open_suite(args)
    devices, _, num_nodes = _placement_of(args)
    rows = suite_status(suite.entries, suite.root, suite.results, _seeds_to_run(args), args.only, suite.work,
                        devices * num_nodes)
    print(render_status(rows))
    return 0


def run(args: argparse.Namespace) -> int:
    from lit_gen.bench.run import run_suite

    suite = open_suite(args)
    command, seeds = _reproduce_command(args, suite), _seeds_to_run(args)
    timeout = {"claim_timeout": args.claim_timeout} if args.claim_timeout is not None else {}
    _, failures = run_suite(suite.name, suite.entries, suite.root, suite.out, devices=args.devices,
                            accelerator=args.accelerator, resume=args.resume, seeds=seeds, command=command,
                            only=args.only, work=suite.work, num_nodes=args.num_nodes, strategy=args.strategy,
                            **timeout)
    return 1 if failures else 0


def plan(args: argparse.Namespace) -> int:
    """The pending runs as commands that name everything they depend on (absolute folders,
    devices), so any machine that sees the same folders can run any line."""
    from lit_gen.bench.resume import pending
    from lit_gen.utils.io import atomic_write_lines

    suite = open_suite(args)
    _reproduce_command(args, suite)  # checks --devices and --num_nodes
    _, todo = pending(suite.entries, suite.root, suite.results, args.devices * args.num_nodes, args.resume,
                      _seeds_to_run(args), args.only, quiet=True)
    suite_arg = str(Path(args.suite).resolve()) if Path(args.suite).exists() else args.suite
    common = ["--out", str(suite.out.resolve()), "--root", str(suite.root)]
    common += ["--work", str(suite.work)] if suite.work is not None else []
    common += ["--devices", str(args.devices), "--accelerator", args.accelerator] if (
        args.devices > 1 or args.accelerator != "cpu") else []
    common += ["--num_nodes", str(args.num_nodes)] if args.num_nodes > 1 else []
    common += ["--strategy", args.strategy] if args.strategy else []
    common += ["--claim-timeout", str(args.claim_timeout)] if args.claim_timeout is not None else []
    common += [] if args.resume else ["--no-resume"]
    lines = [shlex.join(["lit-gen", "bench", "run", "--suite", suite_arg, "--only", entry.name, "--seed", str(seed),
                         *common]) for entry, seed, _, _ in todo]
    if args.plan_file:
        atomic_write_lines(Path(args.plan_file), lines)
        print(f"{len(lines)} pending run(s) -> {args.plan_file}", file=sys.stderr)
    elif lines:
        print("\n".join(lines))
    return 0


def report(args: argparse.Namespace) -> int:
    from lit_gen.bench.report import embed_headline, refresh_leaderboard

    suite = open_suite(args)
    rows = refresh_leaderboard(suite.name, suite.entries, suite.results, suite.root, _reproduce_command(args, suite))
    print(f"{len(rows)} entries with results -> {suite.results / 'leaderboard.md'}")
    if rows and (suite.results / "verdicts.md").is_file():
        print(f"decision rules applied -> {suite.results / 'verdicts.md'}")
    if args.readme:  # the README carries the headline table, the full leaderboard, or both
        readme = Path(args.readme)
        filled = [embed_headline(readme, suite.results),
                  embed_table(readme, suite.name, (suite.results / "leaderboard.md").read_text(encoding="utf-8"))]
        if not any(filled):
            raise UsageError(f"{readme} has no <!-- headline:{suite.name} --> or <!-- leaderboard:{suite.name} --> block")
    return 0


def embed_table(readme: Path, suite: str, leaderboard_md: str) -> bool:
    """Put the leaderboard's table (title and protocol dropped) between the README's
    ``<!-- leaderboard:SUITE -->`` markers; False when it has none."""
    from lit_gen.bench.report import embed_block

    table = leaderboard_md.split("\n## Protocol")[0].split("\n", 2)[2]
    return embed_block(readme, f"leaderboard:{suite}", table)


def rescore(args: argparse.Namespace) -> int:
    from lit_gen.bench.rescore import rescore_suite

    if _placement_of(args) != (1, "cpu", 1):  # only the deprecated flag form can ask for devices here
        raise UsageError("--rescore computes on one CPU device; drop --devices/--accelerator")
    suite = open_suite(args)
    command = _reproduce_command(args, suite)
    _, failures = rescore_suite(suite.name, suite.entries, suite.root, suite.out, seeds=_seeds_to_run(args),
                                command=command, only=args.only, work=suite.work)
    return 1 if failures else 0


def compare(args: argparse.Namespace) -> int:
    from lit_gen.bench.compare import CompareError, paired_seeds, render, weights_note
    from lit_gen.bench.results import collect_results

    if not (args.compare and args.metric):
        raise UsageError("--compare A B and --metric M go together")
    suite = open_suite(args)
    by_name = {e.name: e for e in suite.entries}
    unknown = [name for name in args.compare if name not in by_name]
    if unknown:
        raise UsageError(f"no entries {unknown} in suite '{args.suite}'")
    results = collect_results([by_name[name] for name in args.compare], suite.results, suite.root)
    try:
        paired = paired_seeds(results, *args.compare, args.metric)
        print(render(paired, weights_note(results, paired)))
    except CompareError as err:
        raise UsageError(str(err)) from None
    return 0
