"""Benchmark metrics of the lexicon task (registered for ``lit-gen bench``).

* ``seg_f1``: SIGHAN P/R/F1/OOV-R/IV-R and word-type P/R/F1 of a segmentation of the data
  module's gold file; ``segmenter`` picks the system: ``model`` (the trained lexicon), ``chars``
  (every character a word) or ``jieba`` (jieba 0.42.1, HMM off: a supervised reference).
* ``lexicon_stats``: bits per character of the training text by characters and by the lexicon.
"""

from __future__ import annotations

import time

from lit_gen.bench.registry import MetricResult, register_metric
from lit_gen.tasks.lexicon.data import _slice
from lit_gen.tasks.lexicon.io import raw_of, read_lines
from lit_gen.tasks.lexicon.scoring import LexiconScore, SighanScore


def jieba_segmenter():
    """jieba's precise mode without the HMM (dictionary words only); needs ``lit-gen[lexicon]``."""
    try:
        import jieba
    except ImportError:
        raise ImportError("segmenter=jieba needs jieba: pip install 'lit-gen[lexicon]' (jieba==0.42.1)") from None
    jieba.setLogLevel(60)
    jieba.initialize()
    return lambda lines: [jieba.lcut(ln, HMM=False) for ln in lines]


def segmenter_for(name: str, model=None):
    if name == "model":
        return model.segment
    if name == "chars":
        return lambda lines: [list(ln) for ln in lines]
    if name == "jieba":
        return jieba_segmenter()
    raise ValueError(f"segmenter must be model, chars or jieba, got {name!r}")


@register_metric("seg_f1")
def seg_f1(model, datamodule, trainer, segmenter: str = "model", gold: str | None = None,
           gold_format: str = "segmented", gold_lines: str | None = None,
           training_words: str | None = None) -> MetricResult:
    """Score a segmentation of the gold text (``gold`` or the data module's gold file);
    ``gold_lines``: a ``"start:stop"`` slice of ``gold`` (e.g. the PFR dev split ``"-2000:"``)."""
    if gold:
        root = getattr(datamodule.hparams, "data_root", None)
        lines = read_lines(gold, gold_format, data_root=root)[_slice(gold_lines)]
    else:
        lines = datamodule.load_gold()
    raw = raw_of(lines)
    seg = segmenter_for(segmenter, model)
    start = time.perf_counter()
    pred = seg(raw)
    seconds = time.perf_counter() - start
    words = read_lines(training_words, "raw") if training_words else None
    if words is None and getattr(model, "sighan", None) is not None:
        words = model.sighan.training_words
    sighan, types = SighanScore(training_words=words), LexiconScore()
    sighan.update(pred, lines)
    types.update(pred, lines)
    chars = sum(map(len, raw))
    protocol = {
        "gold": gold or datamodule.hparams.gold_file,
        "gold_lines": gold_lines if gold else getattr(datamodule.hparams, "gold_lines", None),
        "segmenter": segmenter, "lines": len(lines), "gold_words": int(sighan.gold.item()), "chars": chars,
        "segment_seconds": round(seconds, 3), "chars_per_second": round(chars / seconds) if seconds else None,
        "scoring": "SIGHAN 2005 score semantics (LCS word alignment per line)",
        "oov_list": training_words or getattr(model.hparams, "training_words", None),
    }
    if segmenter == "model" and model.lexicon is not None:
        protocol["lexicon_words"] = len(model.lexicon)
    return MetricResult({**sighan.compute(), **types.compute()}, protocol)


@register_metric("lexicon_stats")
def lexicon_stats(model, datamodule, trainer) -> MetricResult:
    """L = H/l in bits per character of the training text: by characters and by the lexicon."""
    s = model.stats
    return MetricResult(
        {"L_chars_bits": s["L_chars_bits"], "L_lexicon_bits": s["L_lexicon_bits"], "words": float(s["words"])},
        {"atoms": s["atoms"], "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(model.config).items()}},
    )
