"""`papilla shard serve --part K --parts N`: hold one partition of the gallery and answer scatter-gather searches.

Run one or more replicas per partition (processes, one per core); the match
workers fan each dedup / identify search out to every partition when
PAPILLA_GALLERY_PARTS=N is set, and wait PAPILLA_GALLERY_DEADLINE_S for all.
"""
from __future__ import annotations

import logging
import signal
import threading


def _serve(args) -> int:
    from papilla.services.match import scatter
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings

    if not 0 <= args.part < args.parts:
        print(f"--part must be between 0 and {args.parts - 1}", flush=True)
        return 2
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    centre = Centre.open(settings)
    stop, ready = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=lambda: ready.wait() and print(
        f"papilla shard {args.part}/{args.parts} ready", flush=True), daemon=True).start()
    try:
        scatter.serve(centre, settings.broker_url, args.part, args.parts, stop=stop, ready=ready)
    finally:
        centre.close()
    return 0


def register(sub) -> None:
    parser = sub.add_parser("shard", help="gallery partition process for scatter-gather 1:N")
    cmds = parser.add_subparsers(dest="shard_command", required=True, metavar="CMD")
    s = cmds.add_parser("serve", help="hold partition K of N and answer searches (SIGTERM stops it)")
    s.add_argument("--part", type=int, required=True, help="this partition, 0..N-1")
    s.add_argument("--parts", type=int, required=True, help="number of partitions N")
    s.set_defaults(func=_serve)
