"""`papilla worker extract|match|lifecycle`: run one role's dramatiq worker.

Each worker serves its own `/metrics` (its role's Papilla metrics in seconds,
process and build info: `papilla.shared.metrics.registry_for`) on
PAPILLA_METRICS_HOST (127.0.0.1) at PAPILLA_METRICS_PORT + role offset
(extract +0, match +1, lifecycle +2). A worker is one process with threads,
so prometheus_client's single-process registry is used (and with it the
process_* metrics that multiprocess mode cannot give).
SIGTERM/SIGINT stop it gracefully: in-flight messages finish and are acked,
unstarted prefetched ones go back to RabbitMQ.
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import os
import signal
import threading

from papilla.shared.config import ConfigError

ROLES = ("extract", "match", "lifecycle")


def prepare_process(argv: list[str]) -> None:
    """Called by `papilla.cli` before prometheus_client is imported: a multiprocess directory inherited from the
    environment would switch it to multiprocess mode, which has no process metrics and leaves files on disk."""
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        os.environ.pop(name, None)


def run(args) -> int:
    import importlib
    import logging

    import dramatiq
    from prometheus_client import start_http_server

    from papilla.shared.broker import check_broker, declare_intake, rabbitmq_broker
    from papilla.shared.config import Settings
    from papilla.shared.metrics import registry_for
    from papilla.shared.routing import ROLE_METRICS_OFFSET, ROLE_QUEUES
    from papilla.shared.wire import redact_messages
    from papilla.services.workers import runtime

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # one INFO line per socket event otherwise
    redact_messages(logging.getLogger().handlers)   # dramatiq logs whole message arguments otherwise
    first, rest = runtime.worker_middleware()
    check_broker(settings.broker_url)          # a wrong URL, user or vhost: one sentence now, not tracebacks later
    broker = rabbitmq_broker(settings, rest, first_middleware=first)
    dramatiq.set_broker(broker)
    declare_intake(broker, ROLE_QUEUES[args.role])   # the intake exchange and its bindings to this role's queues
    importlib.import_module(f"papilla.services.workers.{args.role}_actors")
    runtime.declare_undecodable(broker)
    if args.role == "match":
        from papilla.services.match.matching import check_rates
        check_rates(settings)
    runtime.centre()  # open store and keys now: fail at start, not on the first message
    broker.emit_after("process_boot")

    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    if port:
        registry = registry_for(args.role, lambda: runtime.centre().store)
        if args.role == "match":       # scatter-gather latency and partial results (services/match)
            from papilla.services.match import scale_metrics
            scale_metrics.register(registry)
        if args.role == "lifecycle":   # the legal deadlines, read at scrape time (services/lifecycle)
            from papilla.services.lifecycle.lifecycle_metrics import LifecycleDeadlines
            registry.register(LifecycleDeadlines(runtime.centre))
        try:
            start_http_server(port + ROLE_METRICS_OFFSET[args.role], addr=settings.metrics_host, registry=registry)
        except OSError as exc:
            raise ConfigError(f"cannot serve /metrics on {settings.metrics_host}:{port + ROLE_METRICS_OFFSET[args.role]}"
                              f" ({exc.strerror}); set PAPILLA_METRICS_PORT to a free base port, or 0") from None

    worker = dramatiq.Worker(broker, queues=set(ROLE_QUEUES[args.role]), worker_threads=args.threads or settings.worker_threads)
    worker.queue_prefetch = settings.prefetch
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    worker.start()
    where = f"http://{settings.metrics_host}:{port + ROLE_METRICS_OFFSET[args.role]}/metrics" if port else "off"
    print(f"papilla worker {args.role} ready: queues {sorted(ROLE_QUEUES[args.role])}, metrics {where}", flush=True)
    stop.wait()
    print(f"papilla worker {args.role} stopping", flush=True)
    worker.stop()
    broker.emit_before("worker_shutdown", worker)
    broker.close()
    runtime.centre().close()
    return 0


def register(sub) -> None:
    parser = sub.add_parser("worker", help="run a processing-centre worker")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--threads", type=int, default=None, help="worker threads (PAPILLA_WORKER_THREADS)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="base port for /metrics, 0 = off (PAPILLA_METRICS_PORT)")
    parser.set_defaults(func=run)
