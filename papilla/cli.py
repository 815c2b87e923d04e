"""The `papilla` console command: one subcommand module per role.

Each module in `papilla.commands` exposes `register(subparsers)`, which adds
its subcommand(s) and sets `func` on the parser to a callable taking the
parsed args and returning an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from papilla.shared.config import ConfigError

COMMAND_MODULES = [
    "config",
    "centre",
    "station",
    "party",
    "worker",
    "request",
    "dlq",
    "store",
    "lifecycle",
    "demo",
    "inspect",
    "explain",
    "bench",
    "synth",
    "audit",
    "shard",
    "legal",
    "iin",
    "scanner",
    "abis",
    "console",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="papilla", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"papilla.commands.{name}")
        except ModuleNotFoundError as exc:  # a role not built yet
            if exc.name == f"papilla.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "worker":
            # lazy: a worker sets its process up (environment, signals) before any other import
            from papilla.commands.worker import prepare_process

            prepare_process(argv)
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:   # a person's mistake: one sentence, no traceback
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    except TimeoutError as exc:  # no answer in time (ResultTimeout): say so, no traceback
        print(f"papilla: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
