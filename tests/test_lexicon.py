"""Lexicon task: atoms, counting, hashing, Viterbi, SIGHAN scoring, building, files, CLI."""

from __future__ import annotations

import itertools
import math
import random
import unicodedata
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lit_gen.data.errors import CorruptDataError
from lit_gen.tasks.lexicon import BuildConfig, Lexicon, LexiconScore, NgramCounter, Segmenter, SighanScore, build_lexicon
from lit_gen.tasks.lexicon.counting import HashIndex, hash_words, prefix_keys, suffix_keys
from lit_gen.tasks.lexicon.entropy import branching_entropies
from lit_gen.tasks.lexicon.io import parse_lines, read_lines
from lit_gen.tasks.lexicon.lexicon import bits_per_char
from lit_gen.tasks.lexicon.scoring import lcs_alignment
from lit_gen.tasks.lexicon.segment import WordIndex
from lit_gen.tasks.lexicon.text import atomize, chunk_strings, display


def test_atoms_pre_split_numbers_latin_and_punctuation():
    text = "（二○○○年）增长3.5％——WTO 和Ｗｏｒｌｄ。"
    atoms = atomize(text)
    pieces = [text[s:e] for s, e in zip(atoms.start, atoms.end)]
    assert pieces == ["（", "二", "○", "○", "○", "年", "）", "增", "长", "3.5％", "——", "WTO", "和", "Ｗｏｒｌｄ", "。"]
    assert atoms.hard.tolist() == [p in ("（", "）", "——", "。") for p in pieces]
    assert [display(c) for c in chunk_strings(text)] == ["二○○○年", "增长<NUM>", "<LAT>", "和<LAT>"]


def _reference_ngrams(chunks: list[str], n: int) -> Counter:
    return Counter(c[i:i + n] for c in chunks for i in range(len(c) - n + 1))


def test_counts_equal_a_python_counter_and_merge_exactly():
    rng = random.Random(0)
    lines = ["".join(rng.choice("天地人和的了，。") for _ in range(rng.randint(0, 30))) for _ in range(200)]
    whole, parts = NgramCounter(4), NgramCounter(4)
    whole.update(lines)
    for i in range(0, 200, 37):  # uneven batches
        parts.update(lines[i:i + 37])
    chunks = [c for ln in lines for c in chunk_strings(ln)]
    for n, (a, b) in enumerate(zip(whole.tables(), parts.tables()), start=1):
        ref = _reference_ngrams(chunks, n)
        assert np.array_equal(a.keys, b.keys) and np.array_equal(a.counts, b.counts)
        grams = sorted(ref)
        assert a.lookup(hash_words(grams)).tolist() == [ref[g] for g in grams]
        assert int(a.counts.sum()) == sum(ref.values())
    assert whole.tables()[1].lookup(hash_words(["地震"])).tolist() == [0]


def test_hash_index_finds_every_key_and_rejects_others():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64))
    keys = np.r_[keys, np.arange(1, 50, dtype=np.uint64)]  # small keys (single atoms) too
    index = HashIndex(keys)
    assert np.array_equal(index.find(keys), np.arange(len(keys)))
    absent = np.setdiff1d(rng.integers(0, 2**63, 1000, dtype=np.int64).astype(np.uint64), keys)
    assert (index.find(absent) == -1).all()


def test_prefix_and_suffix_keys_follow_from_the_ngram_key():
    key = hash_words(["中华人民"])
    assert prefix_keys(key, np.array([ord("民")]), 4) == hash_words(["中华人"])
    assert suffix_keys(key, np.array([ord("中")])) == hash_words(["华人民"])


def test_branching_entropy_by_hand():
    # 甲乙 is followed by 丙, 丁, 丙 and once by a chunk edge (a distinct neighbour)
    counter = NgramCounter(3)
    counter.update(["甲乙丙", "甲乙丁", "甲乙丙", "甲乙"])
    tables = counter.tables()
    (_, _), (h_left, h_right) = branching_entropies(tables)
    i = int(np.flatnonzero(tables[1].keys == hash_words(["甲乙"])[0])[0])
    expected = -(2 / 4) * math.log(2 / 4) - 2 * (1 / 4) * math.log(1 / 4)  # 丙: 2, 丁: 1, edge: 1
    assert h_right[i] == pytest.approx(expected)
    assert h_left[i] == pytest.approx(4 * math.log(4) / 4)  # always at a chunk start


def _brute_force(text: str, scores: dict[str, float], unknown: float) -> float:
    best = -math.inf
    for cuts in itertools.product([0, 1], repeat=len(text) - 1):
        words, start = [], 0
        for i, c in enumerate(cuts, start=1):
            if c:
                words.append(text[start:i])
                start = i
        words.append(text[start:])
        total = sum(scores.get(w, unknown if len(w) == 1 else -math.inf) for w in words)
        best = max(best, total)
    return best


def test_viterbi_finds_the_best_segmentation():
    rng = random.Random(1)
    for _ in range(30):
        vocab = {"".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(1, 4))) for _ in range(12)}
        scores = {w: -rng.uniform(0.5, 6.0) for w in vocab}
        words = sorted(scores)
        seg = Segmenter.from_index(WordIndex(words, np.array([scores[w] for w in words]), -7.0))
        text = "".join(rng.choice("甲乙丙丁") for _ in range(rng.randint(1, 10)))
        got = seg.segment([text])[0]
        assert "".join(got) == text
        total = sum(scores.get(w, -7.0) for w in got)
        assert total == pytest.approx(_brute_force(text, scores, -7.0))


_SPACE = set("\t\n\r\x0b\x0c\ufeff")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=4))
def test_segmenting_any_unicode_keeps_the_text(lines):
    seg = Segmenter(["天地", "人", "ab"], np.array([5, 3, 2]))
    out = seg.segment(lines)
    assert len(out) == len(lines)
    for line, words in zip(lines, out):
        kept = "".join(c for c in line if not (unicodedata.category(c)[0] == "Z" or c in _SPACE))
        assert "".join(words) == kept
        assert all(words)


def test_lcs_alignment_matches_dynamic_programming():
    rng = random.Random(2)
    for _ in range(200):
        a = [rng.choice("xyz") for _ in range(rng.randint(0, 9))]
        b = [rng.choice("xyz") for _ in range(rng.randint(0, 9))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, j in itertools.product(range(len(a)), range(len(b))):
            table[i + 1][j + 1] = table[i][j] + 1 if a[i] == b[j] else max(table[i][j + 1], table[i + 1][j])
        matched = lcs_alignment(a, b)
        assert len(matched) == table[-1][-1]
        assert matched == sorted(set(matched))
        # the matched gold words appear in order in the system words
        it = iter(b)
        assert all(any(a[i] == w for w in it) for i in matched)


def test_sighan_scores_hand_aligned_lines():
    metric = SighanScore(training_words=["我", "爱", "北京", "天安门"])
    # deletion of a boundary (北京天安门 merged) and insertion of one (天安 门 split)
    metric.update(
        [["我", "爱", "北京天安门"], ["我", "爱", "天安", "门"]],
        [["我", "爱", "北京", "天安门"], ["我", "爱", "天安门"]],
    )
    out = metric.compute()
    # gold 7 words, system 7 words, correct 2 + 2
    assert out["P"] == pytest.approx(4 / 7) and out["R"] == pytest.approx(4 / 7)
    assert out["F1"] == pytest.approx(4 / 7)
    assert out["OOV_rate"] == 0 and out["IV_R"] == pytest.approx(4 / 7)
    metric = SighanScore(training_words=["的"])
    metric.update([["结婚", "的", "和", "尚未", "结婚", "的"]], [["结婚", "的", "和尚", "未", "结婚", "的"]])
    out = metric.compute()
    assert out["P"] == pytest.approx(4 / 6)
    assert out["OOV_rate"] == pytest.approx(4 / 6)  # 结婚 ×2, 和尚, 未 are not in the list
    assert out["OOV_R"] == pytest.approx(2 / 4) and out["IV_R"] == pytest.approx(1.0)


def test_sighan_follows_diff_not_spans():
    # 'aaa' as a|aa vs aa|a: no span agrees, but diff keeps one word unchanged (the LCS)
    metric = SighanScore()
    metric.update([["aa", "a"]], [["a", "aa"]])
    assert metric.compute()["P"] == pytest.approx(0.5)


def test_sighan_refuses_a_gold_line_of_other_text():
    with pytest.raises(ValueError, match="line 2"):
        SighanScore().update([["a"], ["b", "c"]], [["a"], ["b", "d"]])


def test_lexicon_type_scores():
    metric = LexiconScore()
    metric.update([["北京", "天", "安门"]], [["北京", "天安门"]])
    out = metric.compute()
    assert out["type_P"] == pytest.approx(1 / 3) and out["type_R"] == pytest.approx(1 / 2)


def test_bits_per_char_by_hand():
    # two words, equally likely: H = 1 bit; mean length 1.5 atoms
    assert bits_per_char(["a", "bb"], np.array([3, 3])) == pytest.approx(1 / 1.5)


def _synthetic_corpus(seed: int, sentences: int = 3000) -> tuple[list[str], list[list[str]]]:
    """Sentences drawn from a Zipfian vocabulary of 2-4 character words, with punctuation."""
    rng = random.Random(seed)
    chars = [chr(0x4E00 + i) for i in range(60)]
    vocab = sorted({"".join(rng.choice(chars) for _ in range(rng.choice([1, 2, 2, 3, 4]))) for _ in range(150)})
    weights = [1 / (r + 1) for r in range(len(vocab))]
    gold = [rng.choices(vocab, weights, k=rng.randint(3, 12)) for _ in range(sentences)]
    return ["".join(ws) + "。" for ws in gold], gold


@pytest.mark.parametrize("method", ["nvbe", "ngram", "bigram"])
def test_building_recovers_a_planted_vocabulary(method):
    lines, gold = _synthetic_corpus(0)
    # the planted words are random strings of 1-4 characters from U+4E00.. (一 七 三 万 两 个 ...):
    # the Chinese-specific priors (numerals + measure words, function characters) and the
    # 3-atom word limit of the defaults do not describe them, so this test turns them off
    plain = dict(max_n=5, number_units=None, function_ratio=None, measure_numerals=None)
    cfg = {"nvbe": BuildConfig(**plain), "ngram": BuildConfig(method="ngram", max_n=4, min_count=5),
           "bigram": BuildConfig(method="bigram", max_n=2, min_prob=1e-4, em_iters=0, word_bonus=0.0)}[method]
    counter = NgramCounter(cfg.max_n)
    counter.update(lines)
    lexicon = build_lexicon(counter.codes(), counter.tables(), cfg)
    pred = [ws[:-1] for ws in lexicon.segmenter().segment(lines[:500])]  # drop the final 。
    metric, chars = SighanScore(), SighanScore()
    metric.update(pred, gold[:500])
    chars.update([list("".join(g)) for g in gold[:500]], gold[:500])
    f1 = metric.compute()["F1"]
    assert f1 > chars.compute()["F1"] + 0.2
    if method == "nvbe":
        assert f1 > 0.8
    assert lexicon.bits_per_char() < bits_per_char(list("x" * len(counter.tables()[0])), counter.tables()[0].counts)


def test_lexicon_tsv_round_trip(tmp_path):
    lex = Lexicon(["北京", "\ue000年", "天"], np.array([5, 3, 1]), np.array([-1.0, -2.0, -3.0]))
    lex.save(tmp_path / "lex.tsv")
    text = (tmp_path / "lex.tsv").read_text(encoding="utf-8")
    assert "<NUM>年\t3" in text and text.startswith("word\tcount\tscore")
    back = Lexicon.load(tmp_path / "lex.tsv")
    assert back.words == ["北京", "\ue000年", "天"] and back.counts.tolist() == [5, 3, 1]
    assert back.segmenter().segment(["北京2001年"]) == [["北京", "2001年"]]
    assert [p.name for p in tmp_path.iterdir()] == ["lex.tsv"]  # no temporary file left


def test_bad_input_files_give_clear_errors(tmp_path):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("你好世界".encode("gbk"))
    with pytest.raises(CorruptDataError, match="gb18030"):
        read_lines(gbk)
    assert read_lines(gbk, encoding="gb18030") == ["你好世界"]
    binary = tmp_path / "x.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorruptDataError, match="binary"):
        read_lines(binary)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_lines(tmp_path / "nope.txt")


def test_enormous_line_is_refused(monkeypatch):
    import lit_gen.tasks.lexicon.io as lio

    monkeypatch.setattr(lio, "MAX_LINE_CHARS", 100)
    with pytest.raises(CorruptDataError, match="line 2 has 101"):
        parse_lines("短\n" + "长" * 101, "raw", "big.txt")


def test_empty_corpus_is_refused():
    counter = NgramCounter(3)
    counter.update(["，。！", ""])
    with pytest.raises(ValueError, match="empty corpus"):
        build_lexicon(counter.codes(), counter.tables(), BuildConfig())


def test_pfr_format_strips_tags_and_brackets():
    assert parse_lines("[中央/n  人民/n  电台/n]nt  １/m  张/q\n\n", "pfr") == [["中央", "人民", "电台", "１", "张"]]


def test_templates_link_strong_skip_gram_pairs():
    from lit_gen.tasks.lexicon.templates import count_templates, sentences

    assert sentences([["我", "爱", "，", "你", "。"]]) == [["我", "爱"], ["你"]]
    lines = [["从", "北京", "到", "上海", "。"]] * 30 + [["从", "天津", "到", "广州"]] * 30
    lines += [["他", "说", "好"]] * 40
    counts = count_templates(lines, window=3, min_count=10, min_pmi=0.5)
    # 从…到 links over a gap; the adjacent pair 他 说 is a template without gaps
    assert counts["从 X 到"] == 60 and counts["他 说"] == 40 and counts["北京 X 上海"] == 30
    assert all(not t.startswith("X") and not t.endswith("X") for t in counts)


def test_parser_nests_templates_to_maximise_log_probability():
    from lit_gen.tasks.lexicon.templates import TemplateParser

    parser = TemplateParser({"从 X 到": 5, "我 X 你": 3}, {"从": 10, "北京": 4, "到": 10, "上海": 4, "我": 10, "你": 10})
    assert parser.parse(["从", "北京", "到", "上海"]) == "[从 {北京} 到] 上海"
    assert parser.parse(["我", "从", "北京", "到", "上海", "你"]) == "[我 {[从 {北京} 到] 上海} 你]"
    assert parser.parse(["北京"]) == "北京"
