"""Lexicon task: minimum-entropy word discovery, segmentation, templates, SIGHAN-scored F1.

Python API::

    from lit_gen.tasks.lexicon import BuildConfig, NgramCounter, build_lexicon
    counter = NgramCounter(max_n=4); counter.update(lines)
    lexicon = build_lexicon(counter.codes(), counter.tables(), BuildConfig())
    words = lexicon.segmenter().segment(["今天天气不错"])

See ``docs/lexicon.md``.
"""

from lit_gen.tasks.lexicon.build import BuildConfig, build_lexicon
from lit_gen.tasks.lexicon.counting import NgramCounter
from lit_gen.tasks.lexicon.data import TextCorpusDataModule
from lit_gen.tasks.lexicon.lexicon import Lexicon
from lit_gen.tasks.lexicon.module import LexiconModule
from lit_gen.tasks.lexicon.scoring import LexiconScore, SighanScore
from lit_gen.tasks.lexicon.segment import Segmenter

__all__ = [
    "BuildConfig",
    "Lexicon",
    "LexiconModule",
    "LexiconScore",
    "NgramCounter",
    "Segmenter",
    "SighanScore",
    "TextCorpusDataModule",
    "build_lexicon",
]
