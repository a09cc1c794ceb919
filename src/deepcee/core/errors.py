"""One exception type for bad input, so every stage can report it as one line."""


class DeepCeeError(Exception):
    """Bad input or an unusable environment.

    The message is one line naming the file, row, key or cluster at fault; rule
    scripts print it and exit non-zero instead of showing a traceback.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
