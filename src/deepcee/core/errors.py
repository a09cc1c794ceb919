"""One exception type for bad input, so every stage can report it as one line."""


class DeepCeeError(Exception):
    """Bad input or an unusable environment.

    The message is one line naming the file, row, key or cluster at fault; rule
    scripts print it and exit non-zero instead of showing a traceback.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(_original_message(str(message)).split()))


class DamagedFileError(DeepCeeError):
    """A file that exists but cannot be read as what it should be: not parseable, truncated, or
    breaking its contract. A rule script that meets one in a results file it reads names the
    command that rebuilds that file (``deepcee.core.files.rebuild_hint``)."""


def _original_message(message: str) -> str:
    """The worker's own message when torch re-raises an error from a DataLoader worker.

    ``torch.utils.data`` re-raises a worker's exception as the same type with the text
    "Caught X in DataLoader worker process N. Original Traceback ...": keep only the
    original message (the traceback's last line, without its "module.Type: " prefix).
    """
    if "Original Traceback" not in message:
        return message
    lines = [line for line in message.splitlines() if line.strip()]
    prefix, sep, rest = lines[-1].partition(": ")
    if sep and " " not in prefix:
        return rest
    return lines[-1]
