"""`papilla config`: print the effective configuration, secrets masked."""
from __future__ import annotations

import json

from papilla.shared.config import Settings


def run(args) -> int:
    values = Settings.from_env().masked()
    if args.json:
        print(json.dumps(values, indent=2))
    else:
        width = max(map(len, values))
        for name, value in values.items():
            print(f"{name:<{width}}  {value}")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("config", help="print the effective configuration (secrets masked)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(func=run)
