"""The bench's metric adapters, one module per kind of measurement; importing this package
registers every one of them by name (:func:`lit_gen.bench.registry.register_metric`).

- :mod:`.likelihood`: ``test``, ``nelbo``, ``nll``, ``bpd``, ``param_count``
- :mod:`.clustering`: ``clustering``, ``kmeans``, ``gmm``
- :mod:`.classification`: ``test_error``, ``test_error_at_mu``
- :mod:`.fidelity`: ``fid``, ``kid``, ``is``, ``fidelity_selfcheck``
- :mod:`.gan`: ``gan_step_time``, ``fid_second_extractor``, ``class_accuracy``

The couplet and lexicon tasks register theirs beside the task (``lit_gen.tasks.*.bench``).
"""

from lit_gen.bench.metrics import classification, clustering, fidelity, gan, likelihood

__all__ = ["classification", "clustering", "fidelity", "gan", "likelihood"]
