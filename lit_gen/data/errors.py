"""Errors raised by the data layer: each message names the file or setting to fix."""


class LitGenDataError(RuntimeError):
    """Base class of lit-gen's data errors."""


class DataNotFoundError(LitGenDataError, FileNotFoundError):
    """No place that was tried holds the data set; the message lists them and the fixes."""


class CorruptDataError(LitGenDataError, ValueError):
    """A file exists but is damaged (truncated, wrong format, undecodable)."""
