"""Errors a user can fix. The CLI prints their message as one sentence, without a traceback."""


class LabError(Exception):
    """Base class: the message names the file or key at fault and how to fix it."""


class ConfigError(LabError):
    """An experiment config (YAML file or --set override) is invalid."""


class DataError(LabError):
    """A dataset is missing, incomplete or unreadable."""


class RunDirError(LabError):
    """A run directory cannot be used for this run."""


class DeviceError(LabError):
    """The requested device or precision is not available on this machine."""


class JudgeError(LabError):
    """The judge classifier is not good enough to label samples."""


class FeatureSpaceError(LabError):
    """A feature extractor's package or weights are missing or unreadable."""
