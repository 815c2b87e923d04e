"""`papilla worker extract|match|lifecycle`: run one role's dramatiq worker.

Each worker serves its own `/metrics` (dramatiq's Prometheus middleware plus
Papilla's metrics, in seconds) on PAPILLA_METRICS_HOST (127.0.0.1) at
PAPILLA_METRICS_PORT + role offset (extract +0, match +1, lifecycle +2).
SIGTERM/SIGINT stop it gracefully: in-flight messages finish and are acked,
unstarted prefetched ones go back to RabbitMQ.
"""
from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

ROLES = ("extract", "match", "lifecycle")


def metrics_dir_for(role: str) -> Path:
    from papilla.shared.config import Settings

    return Settings.from_env().home / "metrics" / f"{role}-{os.getpid()}"


def prepare_process(argv: list[str]) -> None:
    """Called by `papilla.cli` before anything imports prometheus_client or dramatiq's Prometheus middleware:
    multiprocess metrics must be chosen before the first metric exists."""
    role = argv[1] if len(argv) > 1 and argv[1] in ROLES else "worker"
    path = metrics_dir_for(role)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    os.environ["prometheus_multiproc_dir"] = str(path)
    os.environ["dramatiq_prom_db"] = str(path)


def run(args) -> int:
    import importlib
    import logging

    import dramatiq
    from dramatiq.middleware.prometheus import Prometheus
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    from papilla.shared.broker import rabbitmq_broker
    from papilla.shared.config import Settings
    from papilla.shared.routing import ROLE_METRICS_OFFSET, ROLE_QUEUES
    from papilla.shared.wire import redact_messages
    from papilla.services import runtime

    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pika").setLevel(logging.WARNING)  # one INFO line per socket event otherwise
    redact_messages(logging.getLogger().handlers)   # dramatiq logs whole message arguments otherwise
    first, rest = runtime.worker_middleware()
    broker = rabbitmq_broker(settings, rest + [Prometheus()], first_middleware=first)
    dramatiq.set_broker(broker)
    importlib.import_module(f"papilla.services.{args.role}.actors")
    runtime.declare_undecodable(broker)
    if args.role == "match":
        from papilla.services.match.matching import check_rates
        check_rates(settings)
    runtime.centre()  # open store and keys now: fail at start, not on the first message
    broker.emit_after("process_boot")

    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    metrics_path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if port and metrics_path:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=metrics_path)
        start_http_server(port + ROLE_METRICS_OFFSET[args.role], addr=settings.metrics_host, registry=registry)

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
    if metrics_path:
        shutil.rmtree(metrics_path, ignore_errors=True)  # dramatiq leaves multiprocess files behind otherwise
    return 0


def register(sub) -> None:
    parser = sub.add_parser("worker", help="run a processing-centre worker")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--threads", type=int, default=None, help="worker threads (PAPILLA_WORKER_THREADS)")
    parser.add_argument("--metrics-port", type=int, default=None,
                        help="base port for /metrics, 0 = off (PAPILLA_METRICS_PORT)")
    parser.set_defaults(func=run)
