"""ACC / purity against hand-computed contingency tables; NMI/ARI against scikit-learn; DDP."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from lit_gen.metrics.clustering import ClusterAccuracy, ClusterPurity, clustering_metrics


pytestmark = pytest.mark.usefixtures("one_thread")


def _acc_purity(preds, target, k, c):
    acc, pur = ClusterAccuracy(k, c), ClusterPurity(k, c)
    acc.update(torch.tensor(preds), torch.tensor(target))
    pur.update(torch.tensor(preds), torch.tensor(target))
    return float(acc.compute()), float(pur.compute())


def test_permuted_labels_score_one():
    acc, pur = _acc_purity([2, 2, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2], 3, 3)
    assert acc == pytest.approx(1.0) and pur == pytest.approx(1.0)
    # the matching behind it: cluster 2 is class 0, cluster 0 class 1, cluster 1 class 2
    metric = ClusterAccuracy(3, 3)
    metric.update(torch.tensor([2, 2, 0, 0, 1, 1]), torch.tensor([0, 0, 1, 1, 2, 2]))
    rows, cols = metric.matching()
    assert dict(zip(rows.tolist(), cols.tolist())) == {0: 1, 1: 2, 2: 0}


def test_more_clusters_than_classes():
    # clusters x classes table: k0 = [3, 0], k1 = [0, 2], k2 = [1, 2]  (N = 8)
    preds = [0, 0, 0, 1, 1, 2, 2, 2]
    target = [0, 0, 0, 1, 1, 0, 1, 1]
    acc, pur = _acc_purity(preds, target, 3, 2)
    # best one-to-one: k0->0 (3) + k1->1 (2) or k2->1 (2) = 5; cluster k2 or k1 left unmatched
    assert acc == pytest.approx(5 / 8)
    # purity: max per cluster 3 + 2 + 2 = 7
    assert pur == pytest.approx(7 / 8)


def test_fewer_clusters_than_classes():
    # table: k0 = [2, 1, 0], k1 = [0, 1, 3]   (N = 7)
    preds = [0, 0, 0, 1, 1, 1, 1]
    target = [0, 0, 1, 1, 2, 2, 2]
    acc, pur = _acc_purity(preds, target, 2, 3)
    assert acc == pytest.approx(5 / 7)  # k0->0 (2) + k1->2 (3)
    assert pur == pytest.approx(5 / 7)


def test_hungarian_beats_greedy():
    # table k0 = [3, 2], k1 = [2, 0]: greedy majority puts both on class 0; the best map is
    # k0->1, k1->0 = 4 vs k0->0, k1->1 = 3.
    preds = [0] * 5 + [1] * 2
    target = [0, 0, 0, 1, 1, 0, 0]
    acc, pur = _acc_purity(preds, target, 2, 2)
    assert acc == pytest.approx(4 / 7)
    assert pur == pytest.approx(5 / 7)


def test_updates_accumulate_and_reset():
    acc = ClusterAccuracy(2)
    acc.update(torch.tensor([0, 1]), torch.tensor([1, 0]))
    acc.update(torch.tensor([0]), torch.tensor([0]))
    assert float(acc.compute()) == pytest.approx(2 / 3)
    acc.reset()
    acc.update(torch.tensor([0, 1]), torch.tensor([0, 1]))
    assert float(acc.compute()) == pytest.approx(1.0)


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="cluster ids"):
        ClusterAccuracy(2, 2).update(torch.tensor([0, 2]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class labels"):
        ClusterPurity(2, 2).update(torch.tensor([0, 1]), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="entries"):
        ClusterPurity(2, 2).update(torch.tensor([0, 1]), torch.tensor([0]))
    with pytest.raises(ValueError, match="num_clusters"):
        ClusterAccuracy(0)


def test_nmi_ari_match_sklearn():
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 4, (300,), generator=g)
    preds = torch.where(torch.rand(300, generator=g) < 0.7, target, torch.randint(0, 5, (300,), generator=g))
    m = clustering_metrics(5, 4)
    m.update(preds, target)
    out = m.compute()
    assert float(out["nmi"]) == pytest.approx(normalized_mutual_info_score(target, preds), abs=1e-5)
    assert float(out["ari"]) == pytest.approx(adjusted_rand_score(target, preds), abs=1e-5)


def _data():
    g = torch.Generator().manual_seed(1)
    target = torch.randint(0, 3, (40,), generator=g)
    preds = torch.where(torch.rand(40, generator=g) < 0.6, target, torch.randint(0, 4, (40,), generator=g))
    return preds, target


def _rank(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    preds, target = _data()
    m = clustering_metrics(4, 3)
    m.update(preds[rank::world], target[rank::world])  # each rank sees a different half
    values = {k: float(v) for k, v in m.compute().items()}
    if rank == 0:
        torch.save(values, out)
    dist.destroy_process_group()


@pytest.mark.ddp
@pytest.mark.slow
@pytest.mark.timeout(300)  # measured 31 s on 2 busy cores
def test_two_process_ddp_equals_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the spawned ranks start with one thread each
    preds, target = _data()
    single = clustering_metrics(4, 3)
    single.update(preds, target)
    expected = {k: float(v) for k, v in single.compute().items()}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = str(tmp_path / "ddp.pt")
    mp.spawn(_rank, args=(2, port, out), nprocs=2, join=True)
    got = torch.load(out)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name] == pytest.approx(expected[name], abs=1e-6), name
