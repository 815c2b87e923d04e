"""`papilla dlq list|show|requeue`: inspect and replay dead letters."""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import sys

from papilla.shared.config import operational_retention


def _store():
    from papilla.shared.config import Settings
    from papilla.shared.store import open_store

    return open_store(Settings.from_env().store_uri)


def list_(args) -> int:
    from papilla.shared import deadletters

    letters = deadletters.list_dead(_store(), queue=args.queue, limit=args.limit)
    for d in letters:
        print(f"{d.id}  {d.created_at}  {d.queue:<18} {d.reason:<20} {d.state:<8} {d.detail}")
    print(f"{len(letters)} dead letter(s)")
    return 0


def show(args) -> int:
    from papilla.shared import deadletters

    d = deadletters.get(_store(), args.id)
    if d is None:
        print(f"no dead letter {args.id}")
        return 1
    for name in ("id", "queue", "actor", "reason", "detail", "rule", "sender_id", "request_id", "created_at", "state"):
        print(f"{name:<10} {getattr(d, name)}")
    kept = "kept encrypted" if d.body_kept else "not kept"
    print(f"{'message':<10} {d.body_size} bytes ({kept})")
    return 0


def requeue(args) -> int:
    from papilla.shared import deadletters
    from papilla.shared.broker import check_broker, rabbitmq_broker
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings

    from papilla.shared.internal import InternalMessages, internal_key

    settings = Settings.from_env()
    check_broker(settings.broker_url)
    centre = Centre.open(settings)
    broker = rabbitmq_broker(settings, [InternalMessages(lambda: internal_key(centre.keys.box))])
    try:
        fresh = deadletters.requeue(centre.store, centre.cipher, broker, args.id)
    except KeyError:
        print(f"papilla: no dead letter {args.id}", file=sys.stderr)
        return 1
    except deadletters.NotRequeueable as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 1
    finally:
        broker.close()
        centre.close()
    print(f"requeued {args.id} as {fresh.message_id} on {fresh.queue_name}")
    return 0


def shred_expired(args) -> int:
    """Shred dead-letter bodies older than the retention (run daily; the records stay)."""
    from datetime import datetime, timedelta, timezone

    from papilla.shared import deadletters
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings
    from papilla.shared.results import MemoryResultSink

    centre = Centre.open(Settings.from_env(), publisher=MemoryResultSink())
    try:
        cutoff = (datetime.now(timezone.utc) - timedelta(days=args.days)).isoformat()
        shredded = deadletters.forget_bodies(centre.store, centre.cipher, created_before=cutoff)
        centre.store.release_deleted()
    finally:
        centre.close()
    print(f"shredded {shredded} dead-letter bod{'y' if shredded == 1 else 'ies'} older than {args.days} days")
    return 0


def _exists(connection, queue: str) -> bool:
    """Does `queue` exist (a worker declared it)? A passive declare of a missing queue closes its channel."""
    import pika

    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False


def sweep_parked(args) -> int:
    """Record and drop what dramatiq parked on the .XQ queues (run it after a broker or store outage)."""
    import pika

    from papilla.shared import deadletters
    from papilla.shared.centre import Centre
    from papilla.shared.config import Settings
    from papilla.shared.results import MemoryResultSink
    from papilla.shared.broker import check_broker
    from papilla.shared.routing import ROLE_QUEUES

    settings = Settings.from_env()
    check_broker(settings.broker_url)
    centre = Centre.open(settings, publisher=MemoryResultSink())
    connection = pika.BlockingConnection(pika.URLParameters(settings.broker_url))
    try:
        queues = [q for q in sorted({q for qs in ROLE_QUEUES.values() for q in qs}) if _exists(connection, f"{q}.XQ")]
        dropped, recorded = deadletters.sweep_parked(centre.store, centre.cipher, connection.channel(), queues)
    finally:
        connection.close()
        centre.close()
    print(f"parked messages: {recorded} recorded as dead letters, {dropped} already-recorded copies dropped")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("dlq", help="dead letters: list, show, requeue")
    dl = parser.add_subparsers(dest="dlq_command", required=True)
    p = dl.add_parser("list")
    p.add_argument("--queue")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=list_)
    p = dl.add_parser("show")
    p.add_argument("id")
    p.set_defaults(func=show)
    body_days = operational_retention().dead_letter_body_days
    p = dl.add_parser("shred-expired", help="shred kept bodies past their retention (records stay)")
    p.add_argument("--days", type=int, default=body_days,
                   help=f"retention of dead-letter bodies (default PAPILLA_DEAD_LETTER_BODY_RETENTION_DAYS: {body_days})")
    p.set_defaults(func=shred_expired)
    p = dl.add_parser("sweep-parked", help="record and empty the .XQ queues (after a broker or store outage)")
    p.set_defaults(func=sweep_parked)
    p = dl.add_parser("requeue")
    p.add_argument("id")
    p.set_defaults(func=requeue)
