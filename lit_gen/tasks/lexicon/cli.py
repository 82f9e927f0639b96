"""``lit-gen lexicon build|segment|score|templates|parse``: the lexicon task without Lightning.

    lit-gen lexicon build --input corpus.txt [--format raw|segmented|pfr] --out lexicon.tsv
    lit-gen lexicon segment --lexicon lexicon.tsv --input text.txt --out words.txt
    lit-gen lexicon score --gold gold.utf8 --pred words.txt [--training-words list.utf8]
    lit-gen lexicon templates --lexicon lexicon.tsv --input text.txt --out templates.tsv
    lit-gen lexicon parse --lexicon lexicon.tsv --templates templates.tsv --input text.txt --out trees.txt

Every output is written atomically (temporary file + rename), so an error leaves no half file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen lexicon", description="minimum-entropy word discovery")
    sub = p.add_subparsers(dest="command", required=True)

    def io_args(q, out_help):
        q.add_argument("--input", nargs="+", required=True, help="text files (.gz allowed)")
        q.add_argument("--format", default="raw", choices=["raw", "segmented", "pfr"], help="input format")
        q.add_argument("--encoding", default="utf-8", help="input encoding (gb18030 for GBK files)")
        q.add_argument("--out", required=True, help=out_help)

    b = sub.add_parser("build", help="count the text and write a lexicon TSV")
    io_args(b, "lexicon TSV to write (stats go to <out>.json)")
    from lit_gen.tasks.lexicon.build import BuildConfig

    d = BuildConfig()  # defaults as chosen on the PFR dev split; 'none' turns an optional rule off
    opt_float = (lambda v: None if v.lower() == "none" else float(v))
    opt_int = (lambda v: None if v.lower() == "none" else int(v))
    opt_str = (lambda v: None if v.lower() == "none" else v)
    b.add_argument("--method", default=d.method, choices=["bigram", "ngram", "nvbe"])
    b.add_argument("--max-n", type=int, default=d.max_n)
    b.add_argument("--min-prob", type=float, default=d.min_prob)
    b.add_argument("--min-pmi", type=float, default=d.min_pmi)
    b.add_argument("--redundancy-pmi", type=float, default=d.redundancy_pmi)
    b.add_argument("--min-count", type=int, default=d.min_count)
    b.add_argument("--min-cohesion", type=float, nargs="+", default=list(d.min_cohesion))
    b.add_argument("--em-iters", type=int, default=d.em_iters)
    b.add_argument("--max-word-len", type=int, default=d.max_word_len)
    b.add_argument("--word-bonus", type=float, default=d.word_bonus)
    b.add_argument("--length-bonus", type=float, nargs="*", default=list(d.length_bonus))
    b.add_argument("--min-word-pmi", type=opt_float, default=d.min_word_pmi)
    b.add_argument("--pmi-weight", type=float, default=d.pmi_weight)
    b.add_argument("--number-units", type=opt_str, default=d.number_units)
    b.add_argument("--function-ratio", type=opt_float, default=d.function_ratio)
    b.add_argument("--function-penalty", type=float, default=d.function_penalty)
    b.add_argument("--measure-numerals", type=opt_int, default=d.measure_numerals)

    s = sub.add_parser("segment", help="split text into words with a lexicon")
    io_args(s, "segmented text to write (words separated by two spaces, SIGHAN style)")
    s.add_argument("--lexicon", required=True)

    sc = sub.add_parser("score", help="SIGHAN 2005 scores of a segmented file against a gold file")
    sc.add_argument("--gold", required=True)
    sc.add_argument("--pred", required=True)
    sc.add_argument("--training-words", default=None, help="word list for OOV/IV recall")

    t = sub.add_parser("templates", help="count sentence templates (skip-gram word pairs linked into paths)")
    io_args(t, "templates TSV to write")
    t.add_argument("--lexicon", required=True)
    t.add_argument("--window", type=int, default=4)
    t.add_argument("--min-count", type=int, default=20)
    t.add_argument("--min-pmi", type=float, default=1.0)
    t.add_argument("--max-words", type=int, default=4, help="most words in one template")

    pa = sub.add_parser("parse", help="cover sentences with nested templates; bracketed trees")
    io_args(pa, "bracketed parse trees to write, one line per input line")
    pa.add_argument("--lexicon", required=True)
    pa.add_argument("--templates", required=True)
    return p


def _build(args) -> dict:
    from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon
    from lit_gen.tasks.lexicon.counting import NgramCounter
    from lit_gen.tasks.lexicon.io import raw_of, read_lines
    from lit_gen.tasks.lexicon.lexicon import atomic_write, bits_per_char

    cfg = BuildConfig(args.method, args.max_n, args.min_prob, args.min_pmi, args.redundancy_pmi,
                      args.min_count, tuple(args.min_cohesion), args.em_iters, args.max_word_len,
                      args.word_bonus, tuple(args.length_bonus), args.min_word_pmi, args.pmi_weight,
                      args.number_units, args.function_ratio, args.function_penalty,
                      args.measure_numerals)
    lines = [ln for path in args.input for ln in raw_of(read_lines(path, args.format, args.encoding))]
    counter = NgramCounter(cfg.max_n)
    for i in range(0, len(lines), 4096):
        counter.update(lines[i:i + 4096])
    tables = counter.tables()
    lexicon = build_lexicon(counter.codes(), tables, cfg)
    stats = {"atoms": int(tables[0].counts.sum()), "words": len(lexicon),
             "L_chars_bits": bits_per_char(["x"] * len(tables[0]), tables[0].counts),
             "L_lexicon_bits": lexicon.bits_per_char()}
    lexicon.save(args.out)
    atomic_write(args.out + ".json", json.dumps(stats, indent=2) + "\n")
    return stats


def _segment(args) -> dict:
    from lit_gen.tasks.lexicon.io import raw_of, read_lines
    from lit_gen.tasks.lexicon.lexicon import Lexicon, atomic_write

    seg = Lexicon.load(args.lexicon).segmenter()
    # one output line per input line, blank ones too: line k of the output is line k of the input
    lines = [ln for path in args.input
             for ln in raw_of(read_lines(path, args.format, args.encoding, keep_blank=True))]
    words = seg.segment(lines)
    atomic_write(args.out, "".join("  ".join(ws) + "\n" for ws in words))
    return {"lines": len(lines), "words": sum(map(len, words))}


def _score(args) -> dict:
    from lit_gen.tasks.lexicon.io import read_lines
    from lit_gen.tasks.lexicon.scoring import SighanScore

    gold, pred = read_lines(args.gold, "segmented"), read_lines(args.pred, "segmented")
    words = read_lines(args.training_words, "raw") if args.training_words else None
    metric = SighanScore(training_words=words)
    metric.update(pred, gold)
    return metric.compute()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one lexicon command and print its JSON summary. Bad input (a missing or undecodable
    file, a wrong option value) reaches ``lit-gen``'s error report: one paragraph, exit code 2."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        result = _build(args)
    elif args.command == "segment":
        result = _segment(args)
    elif args.command == "score":
        result = _score(args)
    else:
        from lit_gen.tasks.lexicon import templates

        result = templates.run_command(args)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0
