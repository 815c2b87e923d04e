"""`papilla shard serve --part K --parts N`: hold one partition of the gallery and answer scatter-gather searches.

Run one or more replicas per partition (processes, one per core); the match
workers fan each dedup / identify search out to every partition when
PAPILLA_GALLERY_PARTS=N is set, and wait PAPILLA_GALLERY_DEADLINE_S for all.

Each shard process serves its own `/metrics` on PAPILLA_METRICS_HOST at
PAPILLA_METRICS_PORT + 10 + K (`--metrics-port` to choose, 0 = off; replicas
of one partition on one host need distinct ports): its gallery's size and
memory, the last change-log entry it applied and its lag behind the log
(computed by the shard at scrape time, so a replica catching up shows it),
and its search latency. The server starts before the first sync.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import logging
import signal
import threading

from papilla.shared.config import ConfigError


def _metrics(args, settings, centre, gallery) -> str:
    """Start the shard's /metrics server; where it listens ("off" when the port is 0)."""
    from prometheus_client import start_http_server

    from papilla.services.match import scale_metrics
    from papilla.shared.metrics import ShardLogLag, registry_for
    from papilla.shared.routing import SHARD_METRICS_OFFSET

    port = args.metrics_port if args.metrics_port is not None else (
        settings.metrics_port + SHARD_METRICS_OFFSET + args.part if settings.metrics_port else 0)
    if not port:
        return "off"
    registry = registry_for("shard")
    scale_metrics.register(registry)
    registry.register(ShardLogLag(str(args.part), lambda: gallery.last_seq, lambda: centre.store))
    try:
        start_http_server(port, addr=settings.metrics_host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve /metrics on {settings.metrics_host}:{port} ({exc.strerror}); give "
                          "--metrics-port a free port (each replica its own), or 0") from None
    return f"http://{settings.metrics_host}:{port}/metrics"


def _serve(args) -> int:
    from dataclasses import replace

    from papilla.services.match import scatter
    from papilla.services.match.gallery import Gallery, GalleryParams
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings

    if not 0 <= args.part < args.parts:
        print(f"--part must be between 0 and {args.parts - 1}", flush=True)
        return 2
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)
    centre = Centre.open(settings)
    gallery = Gallery(centre, replace(GalleryParams(), partition=(args.part, args.parts)))
    try:
        where = _metrics(args, settings, centre, gallery)
    except ConfigError as exc:
        centre.close()
        print(exc, flush=True)
        return 2
    stop, ready = threading.Event(), threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=lambda: ready.wait() and print(
        f"papilla shard {args.part}/{args.parts} ready, metrics {where}", flush=True), daemon=True).start()
    try:
        scatter.serve(centre, settings.broker_url, args.part, args.parts, stop=stop, ready=ready, gallery=gallery)
    finally:
        centre.close()
    return 0


def register(sub) -> None:
    parser = sub.add_parser("shard", help="gallery partition process for scatter-gather 1:N")
    cmds = parser.add_subparsers(dest="shard_command", required=True, metavar="CMD")
    s = cmds.add_parser("serve", help="hold partition K of N and answer searches (SIGTERM stops it)")
    s.add_argument("--part", type=int, required=True, help="this partition, 0..N-1")
    s.add_argument("--parts", type=int, required=True, help="number of partitions N")
    s.add_argument("--metrics-port", type=int, default=None,
                   help="serve /metrics here (default PAPILLA_METRICS_PORT + 10 + K; 0 = off)")
    s.set_defaults(func=_serve)
