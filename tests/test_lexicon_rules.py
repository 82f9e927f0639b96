"""Lexicon task: the nvbe extras — split PMI of n-grams, number / measure / function rules, bonuses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lit_gen.tasks.lexicon import BuildConfig, NgramCounter
from lit_gen.tasks.lexicon.build import _function_atoms, _measure_atoms, _number_ok, _word_bonus
from lit_gen.tasks.lexicon.counting import HashIndex, hash_words
from lit_gen.tasks.lexicon.entropy import min_split_pmi, ngram_atoms, parents
from lit_gen.tasks.lexicon.text import NUM, atom_string


def _tables(chunks: list[str], max_n: int):
    counter = NgramCounter(max_n)
    counter.update(chunks)
    return counter.tables()


def _row(tables, word: str) -> int:
    return int(HashIndex(tables[len(word) - 1].keys).find(hash_words([word]))[0])


def test_min_split_pmi_and_atoms_by_hand():
    # 甲 乙 丙 three times each, N = 9; 甲乙 3, 乙丙 1, 甲乙丙 1
    tables = _tables(["甲乙丙", "甲乙", "甲乙", "丙", "丙"], 3)
    links = parents(tables)
    pmi = min_split_pmi(tables, links)
    assert pmi[1][_row(tables, "甲乙")] == pytest.approx(math.log(9 * 3 / (3 * 3)))
    assert pmi[1][_row(tables, "乙丙")] == pytest.approx(math.log(9 * 1 / (3 * 3)))
    # 甲|乙丙: log(9·1 / (3·1)) = log 3; 甲乙|丙: log(9·1 / (3·3)) = 0 -> the smaller
    assert pmi[2][_row(tables, "甲乙丙")] == pytest.approx(0.0)
    assert np.isinf(pmi[0]).all()
    atoms = ngram_atoms(tables, links)
    assert atom_string(atoms[2][_row(tables, "甲乙丙")]) == "甲乙丙"
    assert all(a.shape == (len(t), n) for n, (a, t) in enumerate(zip(atoms, tables), start=1))


def test_number_words_are_a_number_alone_or_with_one_unit():
    n = NUM
    atoms = np.array([[n, ord("年")], [n, ord("个")], [ord("年"), n], [ord("北"), ord("京")]])
    ok, bind = _number_ok(atoms, "年月日")
    assert ok.tolist() == [True, False, False, True]
    assert bind.tolist() == [True, False, False, False]


def test_measure_atoms_follow_many_numerals():
    chunks = [n + "个" for n in "一两三四"] * 2 + ["一切"] * 9 + ["两岸"] * 9 + ["一二"] * 2
    tables = _tables(chunks, 2)
    assert _measure_atoms(tables, 4) == {"个"}  # 切 and 岸 follow one numeral; 二 is a numeral
    assert _measure_atoms(tables, 5) == frozenset()
    assert _measure_atoms(tables, None) == frozenset()


def test_function_atoms_and_word_bonus_by_hand():
    words = {"的": 90, "新的": 10, "新": 50, "中国": 100, "中": 5}
    # 的: single in 90 of 100 occurrences, 新 in 50 of 60, 中 in 5 of 105, 国 in 0 of 100
    assert _function_atoms(words, 0.45) == {"的", "新"}
    assert _function_atoms(words, 0.85) == {"的"}
    assert _function_atoms(words, None) == frozenset()
    cfg = BuildConfig(word_bonus=-1.0, length_bonus=(-1.25, 0.0, -0.75), function_penalty=7.0,
                      number_units="年")
    assert cfg.bonus(np.array([1, 2, 3, 4])).tolist() == [-2.25, -1.0, -1.75, -1.75]
    got = _word_bonus(["新的", "中国", "的", chr(NUM) + "年"], cfg, frozenset({"的"}))
    assert got.tolist() == [-8.0, -1.0, -2.25, -1.0 + 20.0]


@pytest.mark.parametrize("bad", [dict(function_ratio=1.5), dict(length_bonus=(math.nan,)),
                                 dict(measure_numerals=0), dict(min_word_pmi=math.inf),
                                 dict(pmi_weight=-1.0), dict(number_units=5)])
def test_bad_build_settings_are_refused(bad):
    with pytest.raises(ValueError):
        BuildConfig(**bad)
