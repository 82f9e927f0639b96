"""Chinese couplets as sequence labelling ("基于CNN和序列标注的对联机器人").

:class:`CoupletDataModule` (wb14123 data), :class:`CoupletTagger` (gated CNN or Transformer),
:class:`CoupletWriter` (the API), constrained decoding in :mod:`.decode`, metrics in :mod:`.metrics`.
"""

from lit_gen.tasks.couplet.curve import CoupletCurveCallback
from lit_gen.tasks.couplet.data import CoupletDataModule
from lit_gen.tasks.couplet.decode import Rules
from lit_gen.tasks.couplet.model import CoupletTagger
from lit_gen.tasks.couplet.text import CoupletInputError
from lit_gen.tasks.couplet.vocab import Vocab
from lit_gen.tasks.couplet.writer import CoupletPredictionWriter, CoupletWriter

__all__ = ["CoupletCurveCallback", "CoupletDataModule", "CoupletInputError", "CoupletPredictionWriter", "CoupletTagger", "CoupletWriter", "Rules", "Vocab"]
