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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lit-gen lexicon", description="minimum-entropy word discovery")
    sub = p.add_subparsers(dest="command", required=True)

    def io_args(q, out_help):
        q.add_argument("--input", nargs="+", required=True, help="text files to read (.gz allowed; required)")
        q.add_argument("--format", default="raw", choices=["raw", "segmented", "pfr"],
                       help="input format: raw lines, words separated by spaces, or People's Daily "
                            "word/POS tokens (default: %(default)s)")
        q.add_argument("--encoding", default="utf-8",
                       help="input encoding, e.g. gb18030 for GBK files (default: %(default)s)")
        q.add_argument("--out", required=True, help=out_help + " (required)")

    b = sub.add_parser("build", help="count the text and write a lexicon TSV")
    io_args(b, "lexicon TSV to write (stats go to <out>.json)")
    from lit_gen.tasks.lexicon.build import BuildConfig

    d = BuildConfig()  # defaults as chosen on the PFR dev split; 'none' turns an optional rule off
    opt_float = (lambda v: None if v.lower() == "none" else float(v))
    opt_int = (lambda v: None if v.lower() == "none" else int(v))
    opt_str = (lambda v: None if v.lower() == "none" else v)
    b.add_argument("--method", default=d.method, choices=["bigram", "ngram", "nvbe"],
                   help="bigram: cut at weak adjacent pairs; ngram: cut unless a cohesive n-gram "
                        "covers the gap; nvbe: score n-grams by branching-entropy autonomy "
                        "(default: %(default)s)")
    b.add_argument("--max-n", type=int, default=d.max_n,
                   help="longest n-gram counted, in characters (a digit or Latin run counts as one) "
                        "(default: %(default)s)")
    b.add_argument("--min-prob", type=float, default=d.min_prob,
                   help="bigram: least probability per character of text of a kept pair or word "
                        "(default: %(default)s)")
    b.add_argument("--min-pmi", type=float, default=d.min_pmi,
                   help="bigram: least PMI of a pair that is not cut, in nats (default: %(default)s)")
    b.add_argument("--redundancy-pmi", type=float, default=d.redundancy_pmi,
                   help="bigram: a word whose PMI with its best split is at most this (nats) is "
                        "removed (default: %(default)s)")
    b.add_argument("--redundancy", default=d.redundancy, choices=["ours", "author"],
                   help="bigram: the rule removing redundant words: ours (3+ characters, PMI at most "
                        "--redundancy-pmi) or author (nlp-zero's: 2+ characters, PMI below length - 1) "
                        "(default: %(default)s)")
    b.add_argument("--min-count", type=int, default=d.min_count,
                   help="ngram/nvbe: least count of a candidate n-gram or kept word, in occurrences "
                        "(default: %(default)s)")
    b.add_argument("--min-cohesion", type=float, nargs="+", default=list(d.min_cohesion),
                   help="ngram: least smallest-split PMI (nats) of a cohesive n-gram, one value for "
                        "n = 2, 3, 4, ... (default: %(default)s)")
    b.add_argument("--em-iters", type=int, default=d.em_iters,
                   help="re-segmentation rounds that re-estimate word counts; 0 = none (default: %(default)s)")
    b.add_argument("--max-word-len", type=int, default=d.max_word_len,
                   help="longest word kept, in characters (nvbe: at most --max-n - 1) (default: %(default)s)")
    b.add_argument("--word-bonus", type=float, default=d.word_bonus,
                   help="added to every word's segmentation score, in nats; < 0 favours fewer, "
                        "longer words (default: %(default)s)")
    b.add_argument("--length-bonus", type=float, nargs="*", default=list(d.length_bonus),
                   help="added to the score of words of 1, 2, 3, ... characters (the last also "
                        "for longer ones), in nats; none given = no length prior (default: %(default)s)")
    b.add_argument("--min-word-pmi", type=opt_float, default=d.min_word_pmi,
                   help="nvbe: least smallest-split PMI of a candidate of 2+ characters, in nats; "
                        "'none' = no filter (default: %(default)s)")
    b.add_argument("--pmi-weight", type=float, default=d.pmi_weight,
                   help="nvbe: 0 drops candidates below --min-word-pmi; > 0 keeps them with a "
                        "penalty of this many nats per nat below it (default: %(default)s)")
    b.add_argument("--number-units", type=opt_str, default=d.number_units,
                   help="characters a digit run may bind to (1998年, 5万); 'none' = no number "
                        "rule (default: %(default)s)")
    b.add_argument("--function-ratio", type=opt_float, default=d.function_ratio,
                   help="a frequent character that is a word of its own in at least this share "
                        "(0-1) of its uses is a function character (的, 在); 'none' = no rule "
                        "(default: %(default)s)")
    b.add_argument("--function-penalty", type=float, default=d.function_penalty,
                   help="score penalty of a word with a function character at an edge, in nats "
                        "(default: %(default)s)")
    b.add_argument("--measure-numerals", type=opt_int, default=d.measure_numerals,
                   help="a character following at least this many distinct numerals (twice each) "
                        "is a measure word, never joined to its number; 'none' = no rule "
                        "(default: %(default)s)")

    s = sub.add_parser("segment", help="split text into words with a lexicon")
    io_args(s, "segmented text to write, one line per input line (words separated by two "
               "spaces, SIGHAN style)")
    s.add_argument("--lexicon", required=True, help="lexicon TSV from `lit-gen lexicon build` (required)")

    sc = sub.add_parser("score", help="SIGHAN 2005 scores of a segmented file against a gold file")
    sc.add_argument("--gold", required=True, help="gold segmentation, words separated by spaces (required)")
    sc.add_argument("--pred", required=True, help="predicted segmentation in the same format (required)")
    sc.add_argument("--training-words", default=None,
                    help="word list defining out-of-vocabulary words for OOV/IV recall "
                         "(default: none, no OOV/IV recall)")

    t = sub.add_parser("templates", help="count sentence templates (skip-gram word pairs linked into paths)")
    io_args(t, "templates TSV to write")
    t.add_argument("--lexicon", required=True, help="lexicon TSV used to segment the text (required)")
    t.add_argument("--style", default="ours", choices=["ours", "author"],
                   help="ours: paths of 2..--max-words words, never starting or ending with X; author: "
                        "nlp-zero's Template_Finder, complete paths only, X allowed at the ends, "
                        "--min-proba instead of --min-count (default: %(default)s)")
    t.add_argument("--window", type=int, default=None,
                   help="largest distance between two words of a pair, in words (default: 4; author: 5)")
    t.add_argument("--min-count", type=int, default=20,
                   help="ours: least count of a kept word pair or template, in occurrences (default: %(default)s)")
    t.add_argument("--min-pmi", type=float, default=None,
                   help="PMI a word pair must exceed to be kept, in nats (default: 1; author: 2)")
    t.add_argument("--min-proba", type=float, default=1e-5,
                   help="author: share of all pair slots a pair, and of all templates a template, must "
                        "exceed (default: %(default)s)")
    t.add_argument("--max-words", type=int, default=4,
                   help="ours: most words in one template (default: %(default)s)")

    pa = sub.add_parser("parse", help="cover sentences with nested templates; bracketed trees")
    io_args(pa, "bracketed parse trees to write, one line per input line")
    pa.add_argument("--lexicon", required=True, help="lexicon TSV used to segment the text (required)")
    pa.add_argument("--templates", required=True, help="templates TSV from `lit-gen lexicon templates` (required)")
    return p


def _build(args) -> dict:
    from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon
    from lit_gen.tasks.lexicon.counting import NgramCounter
    from lit_gen.tasks.lexicon.io import raw_of, read_lines
    from lit_gen.tasks.lexicon.lexicon import bits_per_char
    from lit_gen.utils.io import atomic_write_text

    cfg = BuildConfig(args.method, args.max_n, args.min_prob, args.min_pmi, args.redundancy_pmi,
                      args.min_count, tuple(args.min_cohesion), args.em_iters, args.max_word_len,
                      args.word_bonus, tuple(args.length_bonus), args.min_word_pmi, args.pmi_weight,
                      args.number_units, args.function_ratio, args.function_penalty,
                      args.measure_numerals, args.redundancy)
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
    atomic_write_text(args.out + ".json", json.dumps(stats, indent=2) + "\n")
    return stats


def _segment(args) -> dict:
    from lit_gen.tasks.lexicon.io import raw_of, read_lines
    from lit_gen.tasks.lexicon.lexicon import Lexicon
    from lit_gen.utils.io import atomic_write_text

    seg = Lexicon.load(args.lexicon).segmenter()
    # one output line per input line, blank ones too: line k of the output is line k of the input
    lines = [ln for path in args.input
             for ln in raw_of(read_lines(path, args.format, args.encoding, keep_blank=True))]
    words = seg.segment(lines)
    atomic_write_text(args.out, "".join("  ".join(ws) + "\n" for ws in words))
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
    args = build_parser().parse_args(argv)
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
