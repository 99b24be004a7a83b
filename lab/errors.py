"""Errors a user can fix. The CLI prints their message as one sentence, without a traceback."""


class LabError(Exception):
    """Base class: the message names the file or key at fault and how to fix it."""


class ConfigError(LabError):
    """An experiment config (YAML file or --set override) is invalid."""


class ModelContractError(LabError):
    """A model named by the config does not keep the contract of docs/models.md. `key` is
    the config key at fault (None when it is the model's code), `problem` the sentence
    without its full stop, for a caller that names the file first."""

    def __init__(self, problem: str, key: str | None = None) -> None:
        super().__init__(f"{problem}.")
        self.problem = problem
        self.key = key


class DataError(LabError):
    """A dataset is missing, incomplete or unreadable."""


class RunDirError(LabError):
    """A run directory cannot be used for this run."""


class DeviceError(LabError):
    """The requested device or precision is not available on this machine."""


class OutOfMemory(LabError):
    """A generation needed more memory than the machine (or its card) has."""


class JudgeError(LabError):
    """The judge classifier is not good enough to label samples."""


class FeatureSpaceError(LabError):
    """A feature extractor's package or weights are missing or unreadable."""


# Exit statuses of a stopped run: 128 + the signal's number, as shells report them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class Interrupted(Exception):
    """The run was stopped from outside (Ctrl-C, SIGTERM); the same command resumes it.

    Lightning turns both signals into SystemExit inside `Trainer.fit` (SIGTERM with exit
    status 0), which would make a stopped nightly run look finished; this keeps them apart.
    """

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"stopped by {signal_name}")
        self.exit_code = exit_code


class ExecutorError(LabError):
    """The executor asked for cannot run a sweep here (a missing package, no such cards)."""
