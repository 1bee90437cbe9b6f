"""The ``oneshot-rlvr`` command line: one entry point, one subcommand per stage.

    oneshot-rlvr demo    (demo.py)          oneshot-rlvr grade   (grading/cli.py)
    oneshot-rlvr select  (select.py)        oneshot-rlvr train   (train.py)
    oneshot-rlvr eval    (evaluate.py)      oneshot-rlvr report  (report.py)
    oneshot-rlvr toy     (toy/base.py: build-base, gates)

Adding a subcommand: write a module with
``add_arguments(parser)`` (declare the options) and ``run(args) -> int`` (do the work, return the exit
status), then add one ``Command`` to ``COMMANDS`` below. Keep heavy imports (torch, transformers, TRL)
inside ``run`` so that ``oneshot-rlvr --help`` and ``oneshot-rlvr grade`` stay fast. For bad input, raise
``CommandError("what is wrong; how to fix it")``: ``main`` prints it as one line
``oneshot-rlvr SUBCOMMAND: error: ...`` on stderr and returns 2, without a traceback.

Exit status: 0 success; 2 bad usage or bad input (nothing written); 1 a failure while writing output;
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Callable, NamedTuple

from . import __version__, demo, evaluate, report, select, train
from .cliutil import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CommandError, output_locks
from .grading.cli import GRADE_HELP, add_grade_arguments, run_grade
from .toy import base as toy_base

PROG = "oneshot-rlvr"



class Command(NamedTuple):
    """One subcommand: its one-line description, its options, and the function that runs it."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors on one stderr line (usage text stays under ``--help``)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")


COMMANDS: dict[str, Command] = {
    "demo": Command(demo.HELP, demo.add_arguments, demo.run),
    "grade": Command(GRADE_HELP, add_grade_arguments, run_grade),
    "select": Command(select.HELP, select.add_arguments, select.run),
    "eval": Command(evaluate.HELP, evaluate.add_arguments, evaluate.run),
    "train": Command(train.HELP, train.add_arguments, train.run),
    "report": Command(report.HELP, report.add_arguments, report.run),
    "toy": Command(toy_base.HELP, toy_base.add_arguments, toy_base.run),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="RLVR on one (or a few) training examples, after Wang et al. "
                                            "(arXiv 2504.20571).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subcommands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    for name, command in COMMANDS.items():
        subparser = subcommands.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(_run=command.run, _parser=subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``oneshot-rlvr`` with ``argv`` (default: the process arguments); returns the exit status."""
    for stream in (sys.stdout, sys.stderr):  # text that is not valid Unicode is shown escaped, not a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # reported by the subcommand's parser, which names the subcommand and its --help
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
        if args.command is None:
            parser.error(f"choose a command: {', '.join(COMMANDS)}")
    except SystemExit as exit_:  # --help, --version, usage errors: argparse has printed its message
        return exit_.code if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_USAGE)
    prog = args._parser.prog
    try:
        with output_locks(shlex.join([PROG, *map(str, sys.argv[1:] if argv is None else argv)])):  # folder locks
            status = args._run(args)
        sys.stdout.flush()  # a full disk under stdout shows here, as the one line below, not at exit
        return status
    except CommandError as error:
        message = " ".join(str(error).split())  # one line, even where a library's message spans several
        print(f"{prog}: error: {message}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `oneshot-rlvr grade --file x | head`: stop quietly
        _drop_stdout()
        return EXIT_FAILURE
    except OSError as error:  # not bad input (that is a CommandError): the machine failed, e.g. a full disk
        print(f"{prog}: error: input/output failed: {' '.join(str(error).split())}", file=sys.stderr)
        _drop_stdout()
        return EXIT_FAILURE


def _drop_stdout() -> None:
    """Point stdout at the null device, so that the exit does not try again to flush what could not be written."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    sys.exit(main())
