"""`papilla store expire`: delete the operational records past their retention (the SQLite TTL).

MongoDB deletes them itself (TTL indexes, shared/store/expiry.py); on SQLite nothing would, so
infra/systemd/papilla-housekeeping.timer runs this hourly (on MongoDB it only does early what the
server does within the minute). Both the data store and the key vault are swept: the vault holds
the transient keys (a request's probes, a dead letter's body) whose deletion shreds what they encrypt.
"""
from __future__ import annotations

import sys

from papilla.shared.config import Settings
from papilla.shared.store import StoreError, open_store
from papilla.shared.store.expiry import delete_expired


def expire(args) -> int:
    settings = Settings.from_env()
    total = 0
    for name, uri in (("store", settings.store_uri), ("key vault", settings.key_vault_uri)):
        try:
            with open_store(uri) as store:
                at_open = getattr(store, "expired_at_open", {})   # SQLite sweeps when it opens
                swept = {c: n + at_open.get(c, 0) for c, n in delete_expired(store).items()}
                store.release_deleted()
        except StoreError as exc:
            print(f"papilla: the {name} could not be swept: {exc}", file=sys.stderr)
            return 1
        counts = ", ".join(f"{collection} {count}" for collection, count in swept.items() if count) or "nothing"
        print(f"{name}: expired {counts}")
        total += sum(swept.values())
    print(f"{total} expired record(s) deleted")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("store", help="the document store: housekeeping")
    commands = parser.add_subparsers(dest="store_command", required=True)
    p = commands.add_parser("expire", help="delete operational records past their retention (SQLite has no TTL)")
    p.set_defaults(func=expire)
