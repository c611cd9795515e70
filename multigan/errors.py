"""The base class of every error caused by user input (config, data, paths) rather than a bug."""


class MultiganError(Exception):
    """An error with a message meant for the user; recipes and the CLI print it without a traceback."""
