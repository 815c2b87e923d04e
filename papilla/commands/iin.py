"""`papilla iin make --birth 1990-05-17 --sex F [--serial N]`: a valid test IIN, so a newcomer can try the station.

The number is valid (century/sex digit, birth date, check digit) but made up: for tests and demos only.
Without --serial the first serial from 1 that has a valid check digit is used.
"""
from __future__ import annotations

import sys

from papilla.commands.legal import _date, one_sentence_errors
from papilla.shared.crypto.iin import make_test_iin


def make(args) -> int:
    serials = [args.serial] if args.serial is not None else range(1, 10000)
    for serial in serials:
        try:
            print(make_test_iin(args.birth, args.sex == "M", serial))
            return 0
        except ValueError as exc:
            last = exc
    print(f"papilla iin make: {last}", file=sys.stderr)
    return 2


def register(sub) -> None:
    parser = sub.add_parser("iin", help="IIN helpers (test numbers)")
    iin = parser.add_subparsers(dest="iin_command", required=True)
    p = one_sentence_errors(iin.add_parser("make", help="print a valid test IIN for a birth date and sex"))
    p.add_argument("--birth", type=_date, required=True, help="date of birth (YYYY-MM-DD, 1800-2099)")
    p.add_argument("--sex", choices=("F", "M"), required=True)
    p.add_argument("--serial", type=int, help="serial digits 0-9999 (default: the first valid from 1)")
    p.set_defaults(func=make)
