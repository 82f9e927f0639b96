"""``lit-gen bench``: run a suite and write its leaderboard."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from lit_gen.bench.suite import SuiteError, available_suites, load_suite

WORK_ENV = "LIT_GEN_BENCH_WORK"  # the default of --work


def find_root(start: Path | None = None) -> Path:
    """The project root: the nearest folder above ``start`` holding ``benchmarks/suites``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "benchmarks" / "suites").is_dir():
            return folder
    package_root = Path(__file__).resolve().parents[2]
    return package_root


def embed_table(readme: Path, suite: str, leaderboard_md: str) -> None:
    """Replace the block between ``<!-- leaderboard:SUITE -->`` markers with the table."""
    from lit_gen.utils.io import atomic_write_text

    start, end = f"<!-- leaderboard:{suite} -->", f"<!-- /leaderboard:{suite} -->"
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"lit-gen bench: {readme} has no {start} ... {end} block")
    table = leaderboard_md.split("\n## Protocol")[0].split("\n", 2)[2].strip()  # drop the title
    head, rest = text.split(start, 1)
    atomic_write_text(readme, f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lit-gen bench",
        description="Train and evaluate the entries of a benchmark suite (benchmarks/suites/<suite>/*.yaml) "
                    "and write per-run JSON results and leaderboard.{md,csv,json,png}. Finished runs whose "
                    "configuration hash matches are skipped, and a run killed during training continues from its "
                    "last epoch-end checkpoint, so a killed bench resumes where it stopped.")
    parser.add_argument("--suite", default="quick", help="suite name or folder (default: quick)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these entries (default: every entry of the suite)")
    seeds = parser.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", type=int, help="use seeds 0..N-1 instead of each entry's seeds (default: each entry's own seeds)")
    seeds.add_argument("--seed", type=int, nargs="+", metavar="S",
                       help="run exactly these seeds (e.g. one seed per process, to run an entry's "
                            "seeds side by side) (default: each entry's own seeds)")
    parser.add_argument("--devices", type=int, default=1, help="devices per run; > 1 uses DDP (default 1)")
    parser.add_argument("--num_nodes", "--num-nodes", type=int, default=1,
                        help="machines per run (Lightning's Trainer(num_nodes)); start the same command on each, "
                             "e.g. with srun or torchrun: Lightning's cluster environments (SLURM, TorchElastic, "
                             "LSF, Kubeflow, or MASTER_ADDR/MASTER_PORT/NODE_RANK) join them (default 1)")
    parser.add_argument("--strategy", default=None,
                        help="Lightning strategy for every run (default: the entry's, else ddp when "
                             "devices x num_nodes > 1)")
    parser.add_argument("--accelerator", default="cpu", help="cpu, gpu, auto ... (default cpu)")
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/results)")
    parser.add_argument("--work", default=None, metavar="DIR",
                        help="put the runs' work folders (checkpoints, logs) under DIR/<suite>/<entry>/seed=N "
                             "instead of <out>/<suite>/work/<entry>/seed=N, e.g. on local disk while --out is "
                             f"shared; resume and --rescore look there too (default: ${WORK_ENV} if set)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="skip runs with a valid result of the same configuration and continue interrupted "
                             "fits from their last epoch-end checkpoint (default on); --no-resume "
                             "reruns everything from scratch")
    parser.add_argument("--list", action="store_true", help="list the suite's entries and exit")
    parser.add_argument("--plan", action="store_true",
                        help="print one self-contained `lit-gen bench` command per run still to do (entry, seed), "
                             "in the order a plain run takes them, leaving out finished runs of the same "
                             "configuration; hand them to a job array or `xargs -P` (docs/scale-out.md)")
    parser.add_argument("--plan-file", default=None, metavar="F",
                        help="with --plan: write the commands to F (one a line) instead of printing them (default: print them)")
    parser.add_argument("--claim-timeout", type=float, default=None, metavar="SECONDS",
                        help="a run claimed by a worker whose heartbeat stopped this long ago is taken over "
                             "(default 600; a worker killed on this machine is noticed at once)")
    parser.add_argument("--report", action="store_true",
                        help="only rebuild the leaderboard from the result files already on disk")
    parser.add_argument("--rescore", action="store_true",
                        help="add the metrics an entry lists and a finished run lacks, computed on the run's "
                             "saved weights (final.ckpt in the run's work folder) without training; "
                             "runs whose settings changed otherwise are refused and left for a normal run")
    parser.add_argument("--readme", default=None, metavar="FILE",
                        help="with --report: also put the leaderboard table between the markers "
                             "<!-- leaderboard:SUITE --> and <!-- /leaderboard:SUITE --> of FILE (default: none)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"),
                        help="only compare two entries' result files seed by seed (values, means, on how many "
                             "seeds A is lower, an exact permutation test); needs --metric (default: no comparison)")
    parser.add_argument("--metric", default=None, help="with --compare: the metric to compare, e.g. test_error (default: none; required "
                             "with --compare)")
    parser.add_argument("--root", default=None, help="project root holding benchmarks/ and configs/ (default: the nearest folder "
                             "at or above the current one that holds benchmarks/suites)")
    return parser


def main(argv: Sequence[str] = ()) -> int:
    args = build_parser().parse_args(list(argv))
    root = Path(args.root).resolve() if args.root else find_root()
    try:
        entries = load_suite(args.suite, root)
    except SuiteError as err:
        print(f"lit-gen bench: {err}", file=sys.stderr)
        return 2
    if args.only:
        unknown = sorted(set(args.only) - {e.name for e in entries})
        if unknown:
            print(f"lit-gen bench: no entries {unknown} in suite '{args.suite}'; it has: "
                  + ", ".join(e.name for e in entries), file=sys.stderr)
            return 2
    if args.list:
        for e in entries:
            if args.only and e.name not in args.only:
                continue
            print(f"{e.name:<32} {e.config:<36} metrics={','.join(e.metrics)} seeds={e.seeds} budget={e.budget}")
        print(f"(suites: {', '.join(available_suites(root))})")
        return 0
    out = Path(args.out) if args.out else root / "benchmarks" / "results"
    work = args.work or os.environ.get(WORK_ENV) or None
    work = Path(work).resolve() if work else None
    suite_name = Path(args.suite).name
    if args.compare or args.metric:
        return _compare(args, entries, out / suite_name, root)
    from lit_gen.bench.report import refresh_leaderboard
    from lit_gen.bench.run import run_suite

    # the command that reproduces the whole leaderboard (one entry: add --only NAME)
    command = f"lit-gen bench --suite {shlex.quote(suite_name)}"
    if args.devices > 1 or args.accelerator != "cpu":
        command += f" --devices {args.devices} --accelerator {args.accelerator}"
    if args.num_nodes > 1:
        command += f" --num_nodes {args.num_nodes}"
    if args.num_nodes < 1 or args.devices < 1:
        print("lit-gen bench: --devices and --num_nodes must be >= 1", file=sys.stderr)
        return 2
    if args.seeds is not None and args.seeds < 1:
        print(f"lit-gen bench: --seeds must be >= 1, got {args.seeds}", file=sys.stderr)
        return 2
    if args.plan or args.plan_file:
        return _print_plan(args, entries, out, root, work)
    if args.report:
        rows = refresh_leaderboard(suite_name, entries, out / suite_name, root, command)
        print(f"{len(rows)} entries with results -> {out / suite_name / 'leaderboard.md'}")
        if args.readme:
            embed_table(Path(args.readme), suite_name, (out / suite_name / "leaderboard.md").read_text())
        return 0
    seeds = args.seed if args.seed else args.seeds
    if args.rescore:
        if args.devices != 1 or args.accelerator != "cpu" or args.num_nodes != 1:
            print("lit-gen bench: --rescore computes on one CPU device; drop --devices/--accelerator", file=sys.stderr)
            return 2
        from lit_gen.bench.rescore import rescore_suite

        rows, failures = rescore_suite(suite_name, entries, root, out, seeds=seeds, command=command, only=args.only,
                                         work=work)
        return 1 if failures else 0
    rows, failures = run_suite(suite_name, entries, root, out, devices=args.devices, accelerator=args.accelerator,
                               resume=args.resume, seeds=seeds, command=command, only=args.only, work=work,
                               num_nodes=args.num_nodes, strategy=args.strategy,
                               **({"claim_timeout": args.claim_timeout} if args.claim_timeout is not None else {}))
    return 1 if failures else 0


def _print_plan(args: argparse.Namespace, entries, out: Path, root: Path, work: Path | None) -> int:
    """``--plan``: the pending runs as commands that name everything they depend on (absolute
    folders, devices), so any machine that sees the same folders can run any line."""
    from lit_gen.bench.resume import pending
    from lit_gen.utils.io import atomic_write_text

    seeds = args.seed if args.seed else args.seeds
    suite_dir = out / Path(args.suite).name
    _, todo = pending(entries, root, suite_dir, args.devices * args.num_nodes, args.resume, seeds, args.only,
                      quiet=True)
    suite = str(Path(args.suite).resolve()) if Path(args.suite).exists() else args.suite
    common = ["--out", str(out.resolve()), "--root", str(root)]
    common += ["--work", str(work)] if work is not None else []
    common += ["--devices", str(args.devices), "--accelerator", args.accelerator] if (
        args.devices > 1 or args.accelerator != "cpu") else []
    common += ["--num_nodes", str(args.num_nodes)] if args.num_nodes > 1 else []
    common += ["--strategy", args.strategy] if args.strategy else []
    common += ["--claim-timeout", str(args.claim_timeout)] if args.claim_timeout is not None else []
    common += [] if args.resume else ["--no-resume"]
    lines = [shlex.join(["lit-gen", "bench", "--suite", suite, "--only", entry.name, "--seed", str(seed), *common])
             for entry, seed, _, _ in todo]
    if args.plan_file:
        atomic_write_text(Path(args.plan_file), "".join(f"{line}\n" for line in lines))
        print(f"{len(lines)} pending run(s) -> {args.plan_file}", file=sys.stderr)
    elif lines:
        print("\n".join(lines))
    return 0


def _compare(args: argparse.Namespace, entries, suite_dir: Path, root: Path) -> int:
    from lit_gen.bench.compare import CompareError, paired_seeds, render
    from lit_gen.bench.results import collect_results

    if not (args.compare and args.metric):
        print("lit-gen bench: --compare A B and --metric M go together", file=sys.stderr)
        return 2
    by_name = {e.name: e for e in entries}
    unknown = [name for name in args.compare if name not in by_name]
    if unknown:
        print(f"lit-gen bench: no entries {unknown} in suite '{args.suite}'", file=sys.stderr)
        return 2
    results = collect_results([by_name[name] for name in args.compare], suite_dir, root)
    try:
        print(render(paired_seeds(results, *args.compare, args.metric)))
    except CompareError as err:
        print(f"lit-gen bench: {err}", file=sys.stderr)
        return 2
    return 0
