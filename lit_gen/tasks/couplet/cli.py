"""``lit-gen couplet``: write lower lines with a trained checkpoint.

    lit-gen couplet --ckpt model.ckpt "晚风摇树树还挺"          # prints the lower line
    lit-gen couplet --ckpt model.ckpt --file uppers.txt --out lowers.txt
    lit-gen couplet --ckpt model.ckpt --top-k 5 --temperature 0.8 --num 3 "晚风摇树树还挺"
    lit-gen couplet --ckpt model.ckpt --evaluate [--no-rules]   # BLEU/rules on the test split
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lit_gen.utils.io import atomic_write_text

RULE_NAMES = ("no_same_char", "copy_punct", "align_repeats")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen couplet", description="Write the lower line of a Chinese couplet.")
    p.add_argument("lines", nargs="*", help="upper lines (characters may be separated by spaces)")
    p.add_argument("--ckpt", required=True, help="CoupletTagger checkpoint from `lit-gen fit` (required)")
    p.add_argument("--file", help="batch mode: one upper line per line, UTF-8, '-' = stdin; every line "
                                  "gets one output line, blank ones too (default: none, use LINES)")
    p.add_argument("--out", help="batch mode: write lower lines here, atomically (default: stdout)")
    p.add_argument("--top-k", type=int, default=0,
                   help="sample from the k best characters; 0 = greedy (default: %(default)s)")
    p.add_argument("--beam-width", type=int, default=1,
                   help="beam search over the constrained line, keeping this many partial lines; "
                        "1 = greedy (default: %(default)s)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="softmax temperature for sampling with --top-k (default: %(default)s)")
    p.add_argument("--num", type=int, default=1, help="lines to write per input, with --top-k (default: %(default)s)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed for sampling (default: none, fresh randomness)")
    p.add_argument("--evaluate", action="store_true",
                   help="score the test split (data root from --root or $LIT_GEN_DATA/couplet) and print JSON")
    p.add_argument("--root", help="couplet data folder for --evaluate, holding test/ "
                                  "(default: $LIT_GEN_DATA/couplet)")
    p.add_argument("--no-rules", nargs="*", choices=RULE_NAMES, metavar="RULE",
                   help=f"switch rules off (all if none named): {', '.join(RULE_NAMES)} (default: all rules on)")
    p.add_argument("--tone", action="store_true",
                   help="also enforce 仄起平收: the last characters get opposite tone classes (modern Mandarin)")
    return p


def _read(path: str) -> list[str]:
    """Every line of ``path`` (``-`` = stdin), blank ones too; CRLF and a UTF-8 BOM accepted."""
    from lit_gen.data.errors import CorruptDataError, DataNotFoundError
    from lit_gen.utils.textio import split_lines

    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except FileNotFoundError:
        raise DataNotFoundError(f"--file {path} not found") from None
    try:
        return split_lines(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise CorruptDataError(f"--file {path} is not UTF-8 text (byte {err.start}); convert it, "
                               "e.g. iconv -f gb18030 -t utf-8") from None


def write_file_lines(writer, uppers: list[str]) -> tuple[list[str], dict[int, str]]:
    """One lower line per upper line: ``""`` for a blank line and for a refused one.

    Returns the lower lines and, for each refused line, its 1-based number → the reason (too
    long for the model, Latin letters, …). Blank lines are kept as blank lines, not refused.
    """
    todo = [k for k, upper in enumerate(uppers) if upper.strip()]
    lowers = [""] * len(uppers)
    for k, lower in zip(todo, writer.write([uppers[k] for k in todo], on_error="empty")):
        lowers[k] = lower
    return lowers, {todo[j] + 1: reason for j, reason in writer.rejected.items()}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.lines and not args.file and not args.evaluate:
        build_parser().error("give upper lines or --file")
    from lit_gen.tasks.couplet.decode import Rules
    from lit_gen.tasks.couplet.text import CoupletInputError
    from lit_gen.tasks.couplet.writer import CoupletWriter

    off = set(RULE_NAMES if args.no_rules == [] else args.no_rules or ())
    rules = Rules(**{name: name not in off for name in RULE_NAMES}, tone_ending=args.tone)
    try:
        writer = CoupletWriter.from_checkpoint(args.ckpt, rules=rules, top_k=args.top_k,
                                               temperature=args.temperature, seed=args.seed,
                                               beam_width=args.beam_width)
    except (FileNotFoundError, ValueError) as err:
        print(f"lit-gen couplet: {err}", file=sys.stderr)
        return 2
    if args.evaluate:
        return _evaluate(writer, args.root)
    if args.file:
        lowers, refused = write_file_lines(writer, _read(args.file))
        text = "".join(low + "\n" for low in lowers)
        atomic_write_text(args.out, text) if args.out else sys.stdout.write(text)
        if refused:
            shown = list(refused.items())[:10]
            print(f"lit-gen couplet: {len(refused)} lines could not be written and were left empty:\n"
                  + "\n".join(f"  line {k}: {reason}" for k, reason in shown)
                  + ("\n  …" if len(refused) > len(shown) else ""), file=sys.stderr)
        return 1 if refused else 0
    try:
        for _ in range(max(args.num, 1)):
            for low in writer.write(args.lines):
                print(low)
    except CoupletInputError as err:
        print(f"lit-gen couplet: {err}", file=sys.stderr)
        return 2
    return 0  # characters read as <unk> are reported by the writer's logging warning


def _evaluate(writer, root: str | None) -> int:
    """Print BLEU-4, char accuracy and rule pass rates (model and gold) on the test split, ×100."""
    import json

    from lit_gen.data.errors import LitGenDataError
    from lit_gen.tasks.couplet.data import CoupletDataModule, read_pairs

    try:
        pairs = read_pairs(CoupletDataModule(root=root).root / "test")
    except LitGenDataError as err:
        print(f"lit-gen couplet: {err}", file=sys.stderr)
        return 2
    values = {k: round(100 * v, 3) for k, v in writer.score(pairs).items()}
    print(json.dumps({"pairs": len(pairs), "rules": vars(writer.rules), **values}, ensure_ascii=False))
    return 0
