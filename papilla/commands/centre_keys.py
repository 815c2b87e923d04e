"""`papilla centre rotate-kek | kek-status | retire-kek`: the centre's key-encryption keys.

`register_kek_commands(centre_subparsers)` adds the three subcommands to the
subparsers of `papilla centre`; `python -m papilla.commands.centre_keys …`
runs them on their own.  Runbook: docs/keys.md.
"""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from papilla.shared.config import Settings
from papilla.shared.crypto.errors import CryptoError
from papilla.shared.crypto.providers import open_key_provider
from papilla.shared.crypto.rotation import KekRotation, RotationParams, kek_usage
from papilla.shared.locks import LockTimeout
from papilla.shared.store import open_store
from papilla.shared.store.base import StoreError

__all__ = ["register_kek_commands", "main"]


def _rotation(args) -> tuple[KekRotation, object]:
    settings = Settings.from_env()
    store = open_store(settings.key_vault_uri)   # the key vault holds the wrapped data keys
    keys = open_key_provider(settings, create=False)
    return KekRotation(store, keys, params=RotationParams(batch_size=args.batch)), store


def _fail(message: str) -> int:
    print(f"papilla centre: {message}", file=sys.stderr)
    return 1


def _guarded(run):
    """Operator mistakes and key-provider faults are one sentence and exit 1, never a traceback."""
    def wrapper(args) -> int:
        try:
            return run(args)
        except (CryptoError, LockTimeout, StoreError, ValueError) as exc:
            return _fail(str(exc))
    return wrapper


@_guarded
def rotate_kek(args) -> int:
    rotation, store = _rotation(args)
    bar = None

    def on_pass(number: int, total: int) -> None:
        nonlocal bar
        if bar is not None:
            bar.close()
        bar = tqdm(total=total, desc=f"re-wrapping data keys (sweep {number})", unit="key",
                   disable=args.quiet, file=sys.stderr)

    try:
        report = rotation.run(on_pass=on_pass, on_record=lambda: bar.update(1))
    finally:
        if bar is not None:
            bar.close()
        store.close()
    how = "resumed" if report.resumed else "started"
    print(f"KEK rotation {how}: every live data key is now wrapped under {report.target} "
          f"({report.rewrapped} re-wrapped in {report.passes} sweep(s), {report.gone} destroyed meanwhile)")
    return 0


@_guarded
def kek_status(args) -> int:
    rotation, store = _rotation(args)
    keys = rotation.provider
    try:
        usage = kek_usage(store)
        state = rotation.state()
        current = keys.current_kek_id()
        print("provider   " + ", ".join(f"{k}={v}" for k, v in keys.describe().items()))
        for kek_id in keys.kek_ids():
            mark = "current" if kek_id == current else ("retirable" if not usage.get(kek_id) else "in use")
            print(f"{kek_id:<10} {usage.get(kek_id, 0):>10} data keys   {mark}")
        for kek_id in sorted(set(usage) - set(keys.kek_ids())):
            print(f"{kek_id:<10} {usage[kek_id]:>10} data keys   MISSING on the provider")
        if state is not None:
            print(f"rotation   {state['state']} {state.get('from_kek')} -> {state.get('target')} "
                  f"(started {state.get('started_at')}, re-wrapped {state.get('rewrapped')})")
    finally:
        store.close()
    return 0


@_guarded
def retire_kek(args) -> int:
    rotation, store = _rotation(args)
    try:
        rotation.retire(args.kek_id)
    finally:
        store.close()
    print(f"retired {args.kek_id}: destroyed on the key provider")
    return 0


def register_kek_commands(centre_sub) -> None:
    """Add rotate-kek, kek-status and retire-kek to the subparsers of `papilla centre`."""
    p = centre_sub.add_parser("rotate-kek", help="make a new key-encryption key and re-wrap every data key "
                                                 "under it (resumes an interrupted rotation)")
    p.add_argument("--batch", type=int, default=RotationParams.batch_size, help="data keys per checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=rotate_kek)
    p = centre_sub.add_parser("kek-status", help="key-encryption keys, data keys under each, rotation state")
    p.set_defaults(func=kek_status, batch=RotationParams.batch_size)
    p = centre_sub.add_parser("retire-kek", help="destroy an old key-encryption key nothing is wrapped under")
    p.add_argument("kek_id", metavar="KEK-ID")
    p.set_defaults(func=retire_kek, batch=RotationParams.batch_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="papilla centre", description=__doc__.splitlines()[0])
    register_kek_commands(parser.add_subparsers(dest="centre_command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
