"""Data modules and loaders."""

from lit_gen.data.errors import CorruptDataError, DataNotFoundError, LitGenDataError
from lit_gen.data.images import ImageDataModule
from lit_gen.data.sources import locate_and_load, read_idx

__all__ = [
    "CorruptDataError",
    "DataNotFoundError",
    "ImageDataModule",
    "LitGenDataError",
    "locate_and_load",
    "read_idx",
]
