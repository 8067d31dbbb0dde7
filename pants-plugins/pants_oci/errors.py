"""Helpers for turning engine failures into the one line a user needs."""


def engine_error_detail(error: Exception) -> str:
    """The last line of an engine exception: the engine prefixes its own cause with a traceback-like preamble."""
    text = str(error).strip()
    return text.splitlines()[-1] if text else repr(error)
