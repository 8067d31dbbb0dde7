"""The plugin's error base, and helpers for turning engine failures into the one line a user needs.

Standard library only: the pure modules whose errors derive from PantsOciError ship in sandbox tools.
"""


class PantsOciError(Exception):
    """An error the plugin explains to the user: the message names what is wrong and how to fix it.

    Every error that reaches the user through the Pants process derives from it (bad field values are Pants'
    InvalidFieldException instead, as Pants expects). Errors raised and caught inside a sandbox tool, which the
    tool turns into its one-line explanation (exit 2), stay plain: the rule's error carries that line.
    """


def engine_error_detail(error: Exception) -> str:
    """The last line of an engine exception: the engine prefixes its own cause with a traceback-like preamble."""
    text = str(error).strip()
    return text.splitlines()[-1] if text else repr(error)
