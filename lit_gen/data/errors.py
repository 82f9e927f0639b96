"""Errors raised by the data layer: each message names the file or setting to fix.

Defined in :mod:`lit_gen.utils.errors` (the bottom layer, where the command's error reporter
reads them); this is the name the data code and users import them by.
"""

from lit_gen.utils.errors import CorruptDataError, DataNotFoundError, LitGenDataError

__all__ = ["CorruptDataError", "DataNotFoundError", "LitGenDataError"]
