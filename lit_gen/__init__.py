"""lit-gen: PyTorch Lightning modules for generative and unsupervised models.

Subpackages: :mod:`lit_gen.data` (data modules), :mod:`lit_gen.nn` (plain networks),
:mod:`lit_gen.models` (LightningModules), :mod:`lit_gen.callbacks`, :mod:`lit_gen.metrics`,
:mod:`lit_gen.bench`, :mod:`lit_gen.tasks`. Import them explicitly; this file stays light so
``lit-gen --help`` is fast.
"""

__version__ = "0.1.0"
