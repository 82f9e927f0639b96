"""``CoupletWriter``: the Python API of the couplet task.

    >>> writer = CoupletWriter.from_checkpoint("couplet.ckpt")
    >>> writer.write(["晚风摇树树还挺"])
    ['夜雨敲花花更香']            # whatever the trained model writes

Input lines may contain spaces (the wb14123 files do); they are removed. Lines that are empty,
longer than the model's ``max_chars`` or contain Latin letters/digits raise
:class:`CoupletInputError`; other characters outside the vocabulary are read as ``<unk>`` and
counted in :attr:`CoupletWriter.unknown` (the model still answers them).
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.callbacks import BasePredictionWriter

from lit_gen.tasks.couplet.model import CoupletTagger
from lit_gen.tasks.couplet.writing import LineWriter
from lit_gen.utils.io import atomic_write_lines


class CoupletWriter(LineWriter):
    """Writes lower lines with a trained :class:`~lit_gen.tasks.couplet.model.CoupletTagger`: the
    :class:`~lit_gen.tasks.couplet.writing.LineWriter` (its arguments: rules, ``top_k``,
    ``temperature``, ``seed``, ``batch_size``, ``beam_width``) that also loads checkpoints."""

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs) -> CoupletWriter:
        """Load a ``CoupletTagger`` checkpoint (``.ckpt`` from ``lit-gen fit``) on the CPU."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path} not found; train one with "
                                    "`lit-gen fit --config configs/couplet/conv.yaml`")
        try:
            model = CoupletTagger.load_from_checkpoint(path, map_location="cpu")
        except Exception as err:
            raise ValueError(f"{path} is not a CoupletTagger checkpoint: {err}") from err
        return cls(model.eval(), **kwargs)


class CoupletPredictionWriter(BasePredictionWriter):
    """Saves ``lit-gen predict`` output: one lower line per input line, in the input's order
    (written atomically; single device)::

        lit-gen predict --config configs/couplet/conv.yaml --ckpt_path M.ckpt \\
            --data.predict_file uppers.txt \\
            --trainer.callbacks+=lit_gen.tasks.couplet.CoupletPredictionWriter \\
            --trainer.callbacks.output=lowers.txt
    """

    def __init__(self, output: str = "couplet_predictions.txt"):
        super().__init__(write_interval="epoch")
        self.output = output

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices) -> None:
        lowers = {k: lower for batch in predictions for k, _, lower in batch}
        n = max(getattr(trainer.datamodule, "predict_lines", 0), max(lowers, default=-1) + 1)
        atomic_write_lines(self.output, (lowers.get(k, "") for k in range(n)))
