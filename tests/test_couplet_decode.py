"""Constrained decoding and input checks of the couplet task, on hand-made log-probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from lit_gen.tasks.couplet.decode import Rules, decode_line
from lit_gen.tasks.couplet.metrics import check_rules
from lit_gen.tasks.couplet.text import CoupletInputError, check_line, repeat_groups
from lit_gen.tasks.couplet.vocab import Vocab

VOCAB = Vocab(["<pad>", "<unk>", "风", "雨", "花", "月", "，", "山", "水"])


def logp(rows: list[dict[str, float]]) -> np.ndarray:
    """(L, V) log-probs: -10 everywhere except the given characters."""
    out = np.full((len(rows), len(VOCAB)), -10.0)
    for i, row in enumerate(rows):
        for ch, v in row.items():
            out[i, VOCAB.index[ch]] = v
    return out


def two_group_tagger(positions: int):
    """A tagger with fixed scores, alternating two normalised rows over ``positions``: the first
    row prefers 山 (.9) then 水 (.06), the second 山 (.8) then 月 (.04). On 风雨 greedy serves the
    first position first (log .9 > log .8), giving 山月 = log .9 + log .04 = −3.32; a beam of 2
    finds 水山 = −3.04. (The writer takes a log-softmax, so the rows are probabilities.)"""
    from types import SimpleNamespace

    import torch

    first = torch.full((len(VOCAB),), 0.04 / 7)
    first[VOCAB.index["山"]], first[VOCAB.index["水"]] = 0.9, 0.06
    second = torch.full((len(VOCAB),), 0.16 / 7)
    second[VOCAB.index["山"]], second[VOCAB.index["月"]] = 0.8, 0.04
    table = torch.stack([(first, second)[k % 2] for k in range(positions)]).log()

    class Fixed(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.vocab, self.hparams, self.table = VOCAB, SimpleNamespace(max_chars=8), table

        @property
        def device(self):
            return torch.device("cpu")

        def forward(self, ids):
            return self.table.expand(len(ids), -1, -1)

    return Fixed()


def test_no_rules_is_plain_argmax():
    lp = logp([{"风": -0.1}, {"风": -0.1}, {"<unk>": -0.1, "山": -1}])
    # <pad>/<unk> are never written, even without rules
    assert decode_line(lp, "风雨花", VOCAB, Rules.none()) == "风风山"


def test_never_the_upper_character_at_the_same_position():
    lp = logp([{"风": -0.1, "雨": -2}, {"雨": -0.1, "花": -3}])
    assert decode_line(lp, "风雨", VOCAB, Rules(True, False, False)) == "雨花"


def test_punctuation_copied_and_not_written_elsewhere():
    lp = logp([{"，": -0.1, "山": -1}, {"风": -0.1}, {"水": -0.2}])
    assert decode_line(lp, "月，花", VOCAB, Rules(False, True, False)) == "山，水"


def test_repeats_share_one_character_chosen_by_summed_score():
    # positions 1 and 2 repeat 花: 山 wins on the sum (-1 + -1) over 水 (-0.1 + -5)
    lp = logp([{"雨": -0.1}, {"水": -0.1, "山": -1}, {"水": -5, "山": -1}])
    assert decode_line(lp, "风花花", VOCAB, Rules()) == "雨山山"


def test_no_repeat_in_lower_line_where_upper_has_none():
    # both positions prefer 山; the more confident one keeps it, the other takes its next best
    lp = logp([{"山": -0.5, "水": -0.9}, {"山": -0.1, "月": -2}])
    assert decode_line(lp, "风雨", VOCAB, Rules()) == "水山"
    assert decode_line(lp, "风雨", VOCAB, Rules(True, True, False)) == "山山"


def test_top_k_sampling_obeys_the_rules_and_k1_is_greedy():
    rng = np.random.default_rng(0)
    lp = rng.normal(size=(6, len(VOCAB)))
    upper = "风雨，风花月"
    greedy = decode_line(lp, upper, VOCAB)
    assert decode_line(lp, upper, VOCAB, top_k=1, rng=rng) == greedy
    seen = set()
    for _ in range(30):
        low = decode_line(lp, upper, VOCAB, Rules(tone_ending=True), top_k=3, temperature=2.0, rng=rng)
        seen.add(low)
        assert all(check_rules(upper, low).values()), low
    assert len(seen) > 1  # sampling gives variety


def test_repeat_groups_skip_punctuation():
    assert repeat_groups("晚风摇树树还挺") == [[0], [1], [2], [3, 4], [5], [6]]
    assert repeat_groups("风声，风声") == [[0, 3], [1, 4]]


@pytest.mark.parametrize("line, message", [
    ("", "empty"), ("   \t ", "empty"), ("春风abc", "Latin"), ("一二3", "Latin"),
    ("ＡＢ", "Latin"), ("春" * 9, "longer than"),
])
def test_bad_input_is_rejected_with_a_reason(line, message):
    with pytest.raises(CoupletInputError, match=message):
        check_line(line, max_length=8)


def test_spaces_are_removed():
    assert check_line(" 晚 风 摇 树 ", 8) == "晚风摇树"


def test_tone_classes_and_the_tone_ending_rule():
    from lit_gen.tasks.couplet.tones import tone_class, tone_ending_ok, wanted_ending

    assert [tone_class(c) for c in "风雨花树"] == ["ping", "ze", "ping", "ze"]  # feng1 yu3 hua1 shu4
    assert tone_class("，") is None and tone_class("的") is None  # punctuation, neutral tone
    assert wanted_ending("晚风摇树树还挺") == "ping" and wanted_ending("春风，") == "ze"  # 挺 ting3; 风 feng1
    assert tone_ending_ok("晚风摇树树还挺", "夜雨敲花花更香")
    assert not tone_ending_ok("晚风摇树树还挺", "夜雨敲花花更美")  # 美 mei3: both endings oblique
    assert tone_ending_ok("，", "，")  # nothing toned: the rule does not apply


def test_tone_rule_makes_the_last_character_take_the_opposite_class():
    # upper 风雨 ends on 雨 (yu3, oblique): the lower ending must be level (风/花/山 are tone 1)
    lp = logp([{"花": -0.1}, {"水": -0.1, "山": -2}])  # 水 shui3 is oblique
    assert decode_line(lp, "风雨", VOCAB, Rules()) == "花水"
    assert decode_line(lp, "风雨", VOCAB, Rules(tone_ending=True)) == "花山"
    # punctuation at the end: the rule looks at the last toned character (雨), the comma is copied
    lp = logp([{"月": -0.1}, {"水": -0.1, "山": -2}, {"，": -0.1}])
    assert decode_line(lp, "风雨，", VOCAB, Rules(tone_ending=True)) == "月山，"


def test_beam_width_one_is_the_greedy_decoder():
    """On random candidate lists (few tokens, so groups collide), a beam of width 1 makes exactly
    the greedy choices, with and without the distinct-character rule."""
    from lit_gen.tasks.couplet.decode import _beam, _greedy

    rng = np.random.default_rng(0)
    for _ in range(200):
        groups = int(rng.integers(1, 7))
        cands = []
        for _ in range(groups):
            ids = rng.permutation(12)[:9]
            scores = np.sort(rng.normal(size=9).round(1))[::-1]  # rounded: ties happen
            cands.append((ids, scores))
        order = sorted(range(groups), key=lambda j: -cands[j][1][0])
        for distinct in (True, False):
            assert _beam(cands, order, 1, distinct) == _greedy(cands, order, distinct, 0, None)


def test_beam_search_finds_the_better_joint_assignment():
    # both positions want 山; greedy gives it to the more confident first position, and the
    # second falls to 月 (−0.1 − 4 = −4.1); a beam of 2 also keeps 水 for the first (−3 − 0.2)
    lp = logp([{"山": -0.1, "水": -3}, {"山": -0.2, "月": -4}])
    assert decode_line(lp, "风雨", VOCAB, Rules()) == "山月"
    assert decode_line(lp, "风雨", VOCAB, Rules(), beam_width=1) == "山月"
    assert decode_line(lp, "风雨", VOCAB, Rules(), beam_width=2) == "水山"
    # without the distinct rule nothing couples the positions: the beam is the argmax
    assert decode_line(lp, "风雨", VOCAB, Rules(align_repeats=False), beam_width=3) == "山山"


def test_writer_passes_the_beam_width_to_the_decoder():
    from lit_gen.tasks.couplet.writer import CoupletWriter

    assert CoupletWriter(two_group_tagger(2)).write(["风雨"]) == ["山月"]
    assert CoupletWriter(two_group_tagger(2), beam_width=2).write(["风雨"]) == ["水山"]


def test_beam_width_below_one_is_a_clear_error():
    from types import SimpleNamespace

    from lit_gen.tasks.couplet.writer import CoupletWriter

    lp = logp([{"山": -0.1}])
    with pytest.raises(ValueError, match="beam_width"):
        decode_line(lp, "风", VOCAB, Rules(), beam_width=0)
    with pytest.raises(ValueError, match="beam_width"):
        CoupletWriter(SimpleNamespace(vocab=VOCAB), beam_width=0)
    with pytest.raises(ValueError, match="top_k"):
        CoupletWriter(SimpleNamespace(vocab=VOCAB), beam_width=2, top_k=3)


def test_couplet_decoding_metric_scores_greedy_and_beam_on_the_same_lines():
    """The bench metric decodes the same test lines both ways. Upper 风雨风雨 has two repeat
    groups with the writer test's scores, so greedy gives 山 to the first group and 月 to the
    second (山月山月), and a beam of 2 writes the gold line 水山水山."""
    from types import SimpleNamespace

    from lit_gen.tasks.couplet.bench import couplet_decoding

    data = SimpleNamespace(test_set=SimpleNamespace(pairs=[("风雨风雨", "水山水山")] * 6))
    result = couplet_decoding(two_group_tagger(4), data, None, beam_width=2, samples=50)
    assert result.values["char_acc@beam=1"] == 0.0 and result.values["char_acc@beam=2"] == 100.0
    assert result.values["bleu4@beam=1"] == 0.0 and result.values["bleu4@beam=2"] == pytest.approx(100.0)
    assert result.values["beam_wins"] == 1.0  # the beam's BLEU is higher on every resample
    assert result.protocol["lines_changed"] == 6 and result.protocol["bootstrap"]["beam_95"] == pytest.approx([100, 100])
    with pytest.raises(ValueError, match="beam_width"):
        couplet_decoding(two_group_tagger(4), data, None, beam_width=1)
