"""The toolkit's exceptions; each carries the process exit code the CLI turns it into."""


class EdgekitError(Exception):
    """Base class: a failure explained in one line."""

    exit_code = 1


class InputError(EdgekitError):
    """Bad usage or bad input (a missing file, corrupt data, an unusable model): exit code 2."""

    exit_code = 2


class StepError(EdgekitError):
    """A step that could not finish (conversion failed, a runtime is missing): exit code 1."""


class ParityError(EdgekitError):
    """At least one artifact is outside its tolerance: exit code 1."""


class InconclusiveError(EdgekitError):
    """Nothing failed, but the gate could not know: a test set too small to show a drop, an artifact no runtime
    here could run: exit code 3."""

    exit_code = 3


def first_line(error: BaseException) -> str:
    """A foreign exception as one line: its first line of text, or its type when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
