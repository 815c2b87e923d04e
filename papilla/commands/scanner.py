"""`papilla scanner …`: the fingerprint scanners a station can see.

  papilla scanner probe [--emulated]   list connected U.are.U 4000B scanners (USB 05ba:000a);
                                       --emulated lists the emulated one instead (no hardware, no libusb)
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import sys

from papilla.services.capture.devices import ScannerError


def probe(args) -> int:
    # Imported here, not at the top: the drivers import numba, and importing numba needs writable executable
    # memory. `papilla` registers every command module, so a top-level import here would make every command,
    # including the centre's timers run with MemoryDenyWriteExecute=yes (infra/systemd), fail at start.
    from papilla.services.capture.drivers.emulated import EmulatedBackend, EmulatedUru4000B
    from papilla.services.capture.drivers.uru4000 import find_scanners

    backend = EmulatedBackend(EmulatedUru4000B()) if args.emulated else None
    try:
        found = find_scanners(backend)
    except ScannerError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not found:
        print("no supported scanner is connected (DigitalPersona U.are.U 4000B, USB 05ba:000a)", file=sys.stderr)
        return 1
    for info in found:
        print(f"{info}{' [emulated]' if args.emulated else ''}")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("scanner", help="fingerprint scanners: probe")
    commands = parser.add_subparsers(dest="scanner_command", required=True)
    p = commands.add_parser("probe", help="list connected scanners")
    p.add_argument("--emulated", action="store_true", help="probe an emulated 4000B (no hardware needed)")
    p.set_defaults(func=probe)
