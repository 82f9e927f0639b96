"""Lexicon task, the author's rules (nlp-zero): de-redundancy and templates, by hand."""

from __future__ import annotations

from collections import Counter

import pytest

from lit_gen.tasks.lexicon import BuildConfig, NgramCounter, build_lexicon
from lit_gen.tasks.lexicon.build import count_pieces
from lit_gen.tasks.lexicon.counting import SpanHasher
from lit_gen.tasks.lexicon.module import LexiconModule
from lit_gen.tasks.lexicon.redundancy import remove_redundant, remove_redundant_author
from lit_gen.tasks.lexicon.templates import TemplateParser, complete_paths, count_templates


def test_author_rule_by_hand():
    words = {"甲": 8, "乙": 8, "甲乙": 4, "丙": 6, "丁戊": 6, "丙丁戊": 4}
    # author, longest first, T = 36:
    #   丙丁戊 -> 丙 + 丁戊: pmi = log(4/36) − 2 log(6/36) = log 4 = 1.39 < 3 − 1: removed;
    #     丙 and 丁戊 gain 4 (10 each), T = 36 − 4 + 2·4 = 40
    #   甲乙 -> 甲 + 乙: log(4/40) − 2 log(8/40) = log 2.5 = 0.92 < 1: removed (12 each), T = 44
    #   丁戊 -> 丁 + 戊, neither a word (−100 each): pmi ≈ 200: kept
    assert remove_redundant_author(words) == {"甲": 12, "乙": 12, "丙": 10, "丁戊": 10}
    # ours: only 3+ atoms, threshold 1 nat: 丙丁戊's pmi 1.39 > 1 keeps everything
    assert remove_redundant(words, 1.0) == words


def test_author_rule_splits_with_the_total_before_removal():
    """nlp-zero's trie keeps log T of before the deletion while it splits the word: with T = 46,
    pmi(甲乙) = log(4/46) − 2 log(8/46) = log 2.875 = 1.06 >= 1 keeps it; with the total after the
    deletion (42) it would be at most log(4·42/64) = 0.97 < 1 and removed."""
    words = {"甲": 8, "乙": 8, "甲乙": 4, "丙": 26}
    assert remove_redundant_author(words) == words


def test_author_rule_counts_the_total_after_each_removal():
    """T = 42. 丙丁戊 -> 丙 + 丁戊: log(4·42/36) = 1.54 < 2, removed; its count moves to two words,
    so T = 42 − 4 + 2·4 = 46, and then pmi(甲乙) = log(4·46/64) = 1.06 >= 1 keeps 甲乙 (with T
    left at 42: log(4·42/64) = 0.97, removed)."""
    words = {"丙丁戊": 4, "丙": 6, "丁戊": 6, "甲": 8, "乙": 8, "甲乙": 4, "己": 6}
    assert remove_redundant_author(words) == {"丙": 10, "丁戊": 10, "甲": 8, "乙": 8, "甲乙": 4, "己": 6}


def _build(lines: list[str], redundancy: str) -> dict[str, int]:
    counter = NgramCounter(2)
    counter.update(lines)
    cfg = BuildConfig(method="bigram", max_n=2, min_prob=1e-9, min_pmi=-5.0, em_iters=0, word_bonus=0.0,
                      length_bonus=(), number_units=None, function_ratio=None, measure_numerals=None,
                      redundancy=redundancy)
    lexicon = build_lexicon(counter.codes(), counter.tables(), cfg)
    return dict(zip(lexicon.words, lexicon.counts.tolist()))


def test_tiny_corpus_gives_different_lexicons():
    """Lines 甲 ×5, 乙 ×5, 甲乙 ×4; no pair is cut (min_pmi −5), so the pieces are the lines:
    甲 5, 乙 5, 甲乙 4 (T = 14). Author: pmi(甲乙) = log(4/14) − 2 log(5/14) = log 2.24 = 0.81 < 1,
    removed, and the text is re-segmented 甲 乙: 甲 9, 乙 9. Ours never judges a 2-atom word, and
    Viterbi keeps 甲乙 (log 4/14 = −1.25 > 2 log 5/14 = −2.06)."""
    lines = ["甲"] * 5 + ["乙"] * 5 + ["甲乙"] * 4
    assert _build(lines, "author") == {"甲": 9, "乙": 9}
    assert _build(lines, "ours") == {"甲": 5, "乙": 5, "甲乙": 4}


def test_pieces_in_text_order():
    counter = NgramCounter(2)
    counter.update(["乙甲", "丙", "甲"])
    codes = counter.codes()
    starts = codes != 0  # every atom starts a word
    assert list(count_pieces(codes, starts, SpanHasher(codes), in_text_order=True)) == ["乙", "甲", "丙"]


def test_unknown_redundancy_rule_is_a_clear_error():
    with pytest.raises(ValueError, match="redundancy"):
        BuildConfig(redundancy="nlp-zero")
    with pytest.raises(ValueError, match="redundancy"):
        LexiconModule(method="bigram", redundancy="strict", output_dir=None)


def test_author_templates_are_complete_paths_with_open_ends():
    words = ["A", "B", "C", "D", "E"]
    strong = {(0, 2), (1, 2), (2, 4)}  # A→C, B→C, C→E as word ids 0..4
    paths = complete_paths(words, [0, 1, 2, 3, 4], strong, window=5)
    # sources are the words no edge reaches (A, B, D); D alone is a path too
    assert sorted(paths) == sorted(["A X C X E", "X B C X E", "X D X"])


def test_author_template_counts_by_hand():
    """N = 30·4 + 40·3 + 10·2 + 100 = 360 words, 30·6 + 40·3 + 10 = 310 pair slots (window 5).
    Every pair of 从 北京 到 上海 has p = 30/310 and PMI log((30/310) / (30/360)²) = 2.63 > 2;
    他 说 好: log((40/310) / (40/360)²) = 2.35; 东 西: p = 10/310 > min_proba, PMI 3.73. Complete
    paths: 从→…→上海 four ways, 他→…→好 two ways, 东 西; the 100 one-word sentences give 1/310 <
    min_proba each."""
    lines = ([["从", "北京", "到", "上海"]] * 30 + [["他", "说", "好"]] * 40 + [["东", "西"]] * 10
             + [[f"词{i}"] for i in range(100)])
    counts = count_templates(lines, window=5, min_pmi=2.0, style="author", min_proba=1e-2)
    assert counts == Counter({"从 北京 到 上海": 30, "从 北京 X 上海": 30, "从 X 到 上海": 30, "从 X 上海": 30,
                              "他 说 好": 40, "他 X 好": 40, "东 西": 10})
    with pytest.raises(ValueError, match="style"):
        count_templates(lines, style="nlp-zero")


def test_parser_uses_templates_with_x_at_the_ends():
    # total 50: [X 的 X] costs log .4 + 2 log .2 = −4.14, three words 3 log .2 = −4.83
    parser = TemplateParser({"X 的 X": 20}, {"红": 10, "的": 10, "花": 10})
    assert parser.parse(["红", "的", "花"]) == "[{红} 的 {花}]"
    assert TemplateParser({"的 X": 20}, {"的": 10, "花": 10}).parse(["的", "花"]) == "[的 {花}]"
    assert parser.parse(["花"]) == "花"


@pytest.mark.data
def test_author_and_pure_entries_change_only_what_they_say(shared_data):
    """The -author rows are the bigram row with nlp-zero's rule; the -pure rows are their
    corpus's nvbe row with the three hand-given rules off and nothing else changed."""
    from pathlib import Path

    from lit_gen.bench.suite import load_suite
    from lit_gen.cli import LitGenCLI

    root = Path(__file__).resolve().parents[1]
    entries = {e.name: e for e in load_suite("cpu", root)}

    def config(name: str) -> dict:
        cli = LitGenCLI(args=entries[name].cli_args(root, seed=0), run=False)
        return {**vars(cli.model.config), "gold": cli.datamodule.hparams.gold_file,
                "oov": cli.model.hparams.training_words}

    off = {"number_units": None, "measure_numerals": None, "function_ratio": None}
    for corpus in ("pku", "as", "cityu"):
        assert config(f"lexicon-{corpus}-nvbe-pure") == {**config(f"lexicon-{corpus}-nvbe"), **off}
    assert config("lexicon-pku-bigram-author") == {**config("lexicon-pku-bigram"), "redundancy": "author"}
    for corpus in ("as", "cityu"):
        pure, author = config(f"lexicon-{corpus}-nvbe-pure"), config(f"lexicon-{corpus}-bigram-author")
        assert author["redundancy"] == "author" and (author["gold"], author["oov"]) == (pure["gold"], pure["oov"])
