"""Paired-bootstrap BLEU: per-line statistics reproduce torchmetrics' corpus BLEU."""

from __future__ import annotations

import numpy as np
import pytest
from torchmetrics.text import BLEUScore

from lit_gen.tasks.couplet.metrics import spaced
from lit_gen.tasks.couplet.significance import corpus_bleu, corpus_stats, line_stats, paired_bootstrap

REFS = ["夜雨敲花花更香", "雨意，风情", "秋月照人人不眠", "云卷云舒天地宽"]
PREDS = ["夜雨敲花花更美", "雨色，风情", "秋风吹叶叶难眠", "云卷云舒日月宽"]


def test_line_stats_by_hand():
    s = line_stats("云卷云舒", "云卷天舒")
    # unigrams 云卷云舒 vs 云卷天舒: 云 clipped to 1, 卷, 舒 -> 3 of 4; bigrams 云卷 only -> 1 of 3;
    # no trigram or 4-gram in common; lengths 4 and 4
    assert s.tolist() == [3, 1, 0, 0, 4, 3, 2, 1, 4, 4]


def test_corpus_bleu_equals_torchmetrics():
    expected = BLEUScore(n_gram=4)([spaced(p) for p in PREDS], [[spaced(r)] for r in REFS]).item()
    assert corpus_bleu(corpus_stats(PREDS, REFS)) == pytest.approx(expected, rel=1e-6)
    short = BLEUScore(n_gram=4)([spaced("夜雨敲花")], [[spaced("夜雨敲花花")]]).item()  # brevity penalty
    assert corpus_bleu(corpus_stats(["夜雨敲花"], ["夜雨敲花花"])) == pytest.approx(short, rel=1e-6)


def test_paired_bootstrap_prefers_the_better_system():
    good = corpus_stats(REFS * 10, REFS * 10)
    worse = corpus_stats(PREDS * 10, REFS * 10)
    out = paired_bootstrap(worse, good, samples=200)
    assert out["bleu_b"] == pytest.approx(100.0) and out["b_wins"] == 1.0
    assert out["a_low"] <= out["bleu_a"] <= out["a_high"]
    same = paired_bootstrap(worse, worse, samples=50)
    assert same["b_wins"] == 0.0  # never strictly better than itself
    with pytest.raises(ValueError, match="same lines"):
        paired_bootstrap(worse, worse[:3])
    assert np.isfinite(out["a_high"])
