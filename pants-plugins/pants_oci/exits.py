"""The exit protocol of every sandbox tool (docs/ARCHITECTURE.md, "Sandbox tools: one seam").

0 done; 1 a bad command line, which is a bug in the rule that built it; 2 a problem explained in one line, the last
line of stderr, which `sandbox.explained_failure` hands to the rule's error. Anything else is a crash. Standard
library only: the tools import it, so it ships with them.
"""
import argparse
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_EXPLAINED = 2


class ToolArgumentParser(argparse.ArgumentParser):
    """argparse whose usage errors exit EXIT_USAGE: its own 2 would read as an explained problem."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def explained(message: str) -> int:
    """Write `message` as the one line of stderr the rule reports, and return EXIT_EXPLAINED."""
    print(" ".join(message.split()), file=sys.stderr)
    return EXIT_EXPLAINED
