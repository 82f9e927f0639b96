"""Couplet metrics against hand-computed values, and 2-process (gloo) sync equal to 1 process."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lit_gen.tasks.couplet.metrics import CharAccuracy, CoupletScores, RulePassRate, check_rules

UPPERS = ["晚风摇树树还挺", "风声，雨声", "春眠", "花开花落"]
PREDS = ["夜雨敲花花更香", "山色，水色", "秋眠", "月圆月"]
GOLDS = ["夜雨敲花花更香", "雨意，风情", "夏梦", "云卷云舒"]


def test_check_rules_by_hand():
    assert check_rules("晚风摇树树还挺", "夜雨敲花花更香") == dict.fromkeys(
        ["equal_length", "punctuation", "repeat_alignment", "no_same_char", "tone_ending"], True)
    assert check_rules("风声，雨声", "雨意，风情")["repeat_alignment"] is False  # 声…声 vs 意…情
    assert check_rules("春眠", "秋眠")["no_same_char"] is False
    assert check_rules("风，雨", "山水，")["punctuation"] is False
    assert check_rules("风雨", "山山")["repeat_alignment"] is False  # repeat the upper line lacks
    assert not any(check_rules("花开花落", "月圆月").values())


def test_char_accuracy_and_rule_rates_by_hand():
    acc = CharAccuracy()
    acc.update(PREDS, GOLDS)
    # matches: 7 (identical) + 1 (the comma) + 0 + 0 = 8 of 7 + 5 + 2 + 4 gold characters
    assert acc.compute().item() == pytest.approx(8 / 18)
    rules = RulePassRate()
    rules.update(UPPERS, PREDS)
    rates = {k: v.item() for k, v in rules.compute().items()}
    # tone_ending: 挺(3)→香(1) and 声(1)→色(4) pass, 眠(2)→眠(2) fails, unequal lengths fail
    assert rates == {"equal_length": 0.75, "punctuation": 0.75, "repeat_alignment": 0.75, "no_same_char": 0.5,
                     "tone_ending": 0.5}


def test_bleu_is_character_level():
    scores = CoupletScores()
    scores.update(UPPERS[:1], PREDS[:1], GOLDS[:1])
    assert scores.compute()["bleu4"] == pytest.approx(1.0)
    scores.reset()
    scores.update(["春眠"], ["春眠不觉晓"], ["春眠不觉晓处"])  # no word shared if not split by chars
    # 4-gram precisions are all 1, brevity penalty exp(1 - 6/5)
    assert scores.compute()["bleu4"] == pytest.approx(torch.exp(torch.tensor(1 - 6 / 5)).item(), rel=1e-5)


def _ddp_worker(rank: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    scores = CoupletScores()
    scores.update(UPPERS[rank::2], PREDS[rank::2], GOLDS[rank::2])
    queue.put((rank, scores.compute()))
    dist.destroy_process_group()


@pytest.mark.ddp
def test_two_processes_give_the_same_numbers_as_one():
    single = CoupletScores()
    single.update(UPPERS, PREDS, GOLDS)
    expected = single.compute()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("fork")  # spawn would re-import torch in each child (slow)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_ddp_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]  # below the test's 120 s
    for p in procs:
        p.join(timeout=20)
    for _, got in results:
        assert got == pytest.approx(expected)
