"""Reading a bench run's logged curves back (lit_gen.bench.logs)."""

import pytest
from lightning.pytorch.loggers import TensorBoardLogger

from lit_gen.bench.logs import logged_scalars


def _log(root, version, points):
    logger = TensorBoardLogger(root, name="lightning_logs", version=version)
    for step, value in points:
        logger.log_metrics({"val/bpd": value}, step=step)
    logger.finalize("success")


def test_pieces_of_a_resumed_run_are_joined_in_step_order(tmp_path):
    # piece 1 logged epochs at steps 10, 20, 30; the run was cut during the next epoch and the
    # resumed piece repeated step 30 (a new value) and went on
    _log(tmp_path, 0, [(10, 1.5), (20, 1.25), (30, 1.125)])
    _log(tmp_path, 1, [(30, 1.0), (40, 0.875)])
    curves = logged_scalars(tmp_path, ["val/bpd", "val/fid"])
    assert curves["val/bpd"] == [(10, 1.5), (20, 1.25), (30, 1.0), (40, 0.875)]
    assert curves["val/fid"] == []


def test_a_run_started_again_from_scratch_replaces_the_abandoned_one(tmp_path):
    # an abandoned fit got to step 40; a later fit of the same run started from step 10 again
    # (its checkpoint was not resumable) and has reached step 20 so far
    _log(tmp_path, 0, [(10, 1.5), (20, 1.25), (30, 1.125), (40, 1.0)])
    _log(tmp_path, 1, [(10, 1.5), (20, 1.375)])
    assert logged_scalars(tmp_path, ["val/bpd"])["val/bpd"] == [(10, 1.5), (20, 1.375)]


def test_a_missing_run_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder"):
        logged_scalars(tmp_path / "nope", ["val/bpd"])
