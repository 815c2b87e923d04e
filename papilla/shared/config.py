"""Effective configuration, read from environment variables.

Every setting has a safe default for one machine: broker and metrics on
127.0.0.1, an SQLite store and file keys under `PAPILLA_HOME` (default
`./var`).  `papilla config` prints the effective values with secrets masked.
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
#: The matcher's thresholds are calibrated for per-comparison false-match rates up to 1e-2
#: (`services.match.engine.check_fmr` is the engine's own check; this one runs at start-up).
MAX_FMR = 1e-2


class ConfigError(ValueError):
    """A setting that cannot work: the message names the variable and what it must be."""


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _env_rate(name: str, default: float, upper: float) -> float:
    """A probability from the environment, checked now so a bad value fails at start-up, not mid-request."""
    value = _env_float(name, default)
    if not 0 < value <= upper:
        raise ConfigError(f"{name} must be a rate above 0 and at most {upper:g}, got {value:g}")
    return value


def _env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}")
    return value


def _env_float(name: str, default: float) -> float:
    raw = _env(name, repr(default))
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class OperationalRetention:
    """How long operational records are kept before they expire (TTL; shared/store/expiry.py), in days.

    None of them is under a legal retention: people's records end by a destruction act, never by expiry.

    results_days:          PAPILLA_RESULTS_RETENTION_DAYS (30): a stored result, from when it was stored; a
                           service that was down reads it later, a redelivered request finds it.
    jobs_days:             PAPILLA_JOBS_RETENTION_DAYS (7): a verify/identify job never answered (its message
                           dead-lettered), with its encrypted probe templates and their key; RabbitMQ's
                           dead-letter queues keep a message 7 days, so nothing can answer it after that.
    dead_letter_days:      PAPILLA_DEAD_LETTER_RETENTION_DAYS (365): a dead-letter record (reason, rule, ids).
    dead_letter_body_days: PAPILLA_DEAD_LETTER_BODY_RETENTION_DAYS (30): the key of a dead letter's kept body;
                           use the same term for `papilla dlq shred-expired --days`. Past it the body is
                           unreadable even if that command never ran, in the store and in the backups.
    """

    results_days: int = 30
    jobs_days: int = 7
    dead_letter_days: int = 365
    dead_letter_body_days: int = 30

    @classmethod
    def from_env(cls) -> "OperationalRetention":
        """Each field from PAPILLA_<NAME>_RETENTION_DAYS (e.g. results_days: PAPILLA_RESULTS_RETENTION_DAYS)."""
        values = {}
        for item in fields(cls):
            variable = f"PAPILLA_{item.name.removesuffix('_days').upper()}_RETENTION_DAYS"
            values[item.name] = days = _env_int(variable, item.default)
            if days < 1:
                raise ConfigError(f"{variable} must be at least 1 day, got {days}")
        return cls(**values)


@functools.cache
def operational_retention() -> OperationalRetention:
    """This process's operational retention, read from the environment once."""
    return OperationalRetention.from_env()


@dataclass(frozen=True)
class Settings:
    """Documented defaults; each field maps to `PAPILLA_<FIELD>` in upper case."""

    home: Path                      # PAPILLA_HOME: state directory (store, keys, spool)
    broker_url: str                 # PAPILLA_BROKER_URL: RabbitMQ (AMQP URL)
    store_uri: str                  # PAPILLA_STORE_URI: sqlite:///path or mongodb://…
    key_vault_uri: str              # PAPILLA_KEY_VAULT_URI: the wrapped data keys, apart from the data (own backups)
    key_dir: Path                   # PAPILLA_KEY_DIR: key-encryption keys, IIN pepper, centre keys
    station_key_dir: Path           # PAPILLA_STATION_KEY_DIR: this station's signing key
    spool_dir: Path                 # PAPILLA_SPOOL_DIR: station outbox for packets not yet confirmed
    metrics_host: str               # PAPILLA_METRICS_HOST: bind address of /metrics
    metrics_port: int               # PAPILLA_METRICS_PORT: 0 = off; workers add their role offset
    worker_threads: int             # PAPILLA_WORKER_THREADS
    prefetch: int                   # PAPILLA_PREFETCH: unacked deliveries per consumer
    max_retries: int                # PAPILLA_MAX_RETRIES before dead-lettering
    min_backoff_ms: int             # PAPILLA_MIN_BACKOFF_MS
    max_backoff_ms: int             # PAPILLA_MAX_BACKOFF_MS: keep well under RabbitMQ's consumer timeout
    verify_fmr: float               # PAPILLA_VERIFY_FMR: target false-match rate for 1:1 decisions
    identify_fmr: float             # PAPILLA_IDENTIFY_FMR: candidate-list cut for 1:N
    dedup_fmr: float                # PAPILLA_DEDUP_FMR: per-comparison cap of the duplicate-enrollment cut
    dedup_fpir: float               # PAPILLA_DEDUP_FPIR: false duplicate flags per enrollment against the whole gallery
    identify_fpir: float            # PAPILLA_IDENTIFY_FPIR: false candidates per identification
    min_finger_quality: int         # PAPILLA_MIN_FINGER_QUALITY: station quality gate (0-100)
    result_wait_s: float            # PAPILLA_RESULT_WAIT_S: client default wait
    log_level: str                  # PAPILLA_LOG_LEVEL
    # Key provider (docs/keys.md).  The PIN is masked by `masked()` and kept out of repr.
    key_provider: str = "file"      # PAPILLA_KEY_PROVIDER: file (development) | pkcs11 (HSM)
    depersonalization_key_dir: Path | None = None  # PAPILLA_DEPERSONALIZATION_KEY_DIR (file provider)
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"  # PAPILLA_PKCS11_MODULE: the HSM's PKCS#11 library
    pkcs11_token: str = "papilla"   # PAPILLA_PKCS11_TOKEN: token label
    pkcs11_pin: str = field(default="", repr=False)  # PAPILLA_PKCS11_PIN, or read from PAPILLA_PKCS11_PIN_FILE
    pkcs11_label_prefix: str = "papilla"  # PAPILLA_PKCS11_LABEL_PREFIX: object labels <prefix>-kek-N, …
    pkcs11_lock_file: str = ""      # PAPILLA_PKCS11_LOCK_FILE: serialise token calls across processes (SoftHSM2 only)
    queue_type: str = "classic"     # PAPILLA_QUEUE_TYPE: classic, or quorum as infra/rabbitmq/definitions.json declares
    retention: OperationalRetention = OperationalRetention()  # PAPILLA_*_RETENTION_DAYS: see OperationalRetention

    @classmethod
    def from_env(cls) -> "Settings":
        home = Path(_env("PAPILLA_HOME", "var")).resolve()
        return cls(
            home=home,
            broker_url=_env("PAPILLA_BROKER_URL", DEFAULT_BROKER_URL),
            store_uri=_env("PAPILLA_STORE_URI", f"sqlite:///{home / 'papilla.sqlite3'}"),
            key_vault_uri=_env("PAPILLA_KEY_VAULT_URI", f"sqlite:///{home / 'keyvault.sqlite3'}"),
            key_dir=Path(_env("PAPILLA_KEY_DIR", str(home / "keys"))).resolve(),
            station_key_dir=Path(_env("PAPILLA_STATION_KEY_DIR", str(home / "station"))).resolve(),
            spool_dir=Path(_env("PAPILLA_SPOOL_DIR", str(home / "spool"))).resolve(),
            metrics_host=_env("PAPILLA_METRICS_HOST", "127.0.0.1"),
            metrics_port=_env_int("PAPILLA_METRICS_PORT", 9191),
            worker_threads=_env_int("PAPILLA_WORKER_THREADS", 2),
            prefetch=_env_int("PAPILLA_PREFETCH", 8),
            max_retries=_env_int("PAPILLA_MAX_RETRIES", 5),
            min_backoff_ms=_env_int("PAPILLA_MIN_BACKOFF_MS", 500),
            max_backoff_ms=_env_int("PAPILLA_MAX_BACKOFF_MS", 60_000),
            verify_fmr=_env_rate("PAPILLA_VERIFY_FMR", 1e-4, MAX_FMR),
            identify_fmr=_env_rate("PAPILLA_IDENTIFY_FMR", 1e-4, MAX_FMR),
            dedup_fmr=_env_rate("PAPILLA_DEDUP_FMR", 1e-3, MAX_FMR),
            dedup_fpir=_env_rate("PAPILLA_DEDUP_FPIR", 1e-2, 0.5),
            identify_fpir=_env_rate("PAPILLA_IDENTIFY_FPIR", 1e-2, 0.5),
            min_finger_quality=_env_int("PAPILLA_MIN_FINGER_QUALITY", 20),
            result_wait_s=_env_float("PAPILLA_RESULT_WAIT_S", 60.0),
            log_level=_env("PAPILLA_LOG_LEVEL", "INFO"),
            key_provider=_env("PAPILLA_KEY_PROVIDER", "file"),
            depersonalization_key_dir=Path(_env("PAPILLA_DEPERSONALIZATION_KEY_DIR",
                                                str(home / "depersonalization"))).resolve(),
            pkcs11_module=_env("PAPILLA_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so"),
            pkcs11_token=_env("PAPILLA_PKCS11_TOKEN", "papilla"),
            pkcs11_pin=_pin_from_env(),
            pkcs11_label_prefix=_env("PAPILLA_PKCS11_LABEL_PREFIX", "papilla"),
            pkcs11_lock_file=_env("PAPILLA_PKCS11_LOCK_FILE", ""),
            queue_type=_env_choice("PAPILLA_QUEUE_TYPE", "classic", ("classic", "quorum")),
            retention=operational_retention(),
        )

    def masked(self) -> dict[str, str]:
        """Every setting as text, with credentials in URLs and secret fields replaced by `***`."""
        return {f.name: ("***" if getattr(self, f.name) else "") if f.name in SECRET_FIELDS
                else mask_secrets(str(getattr(self, f.name))) for f in fields(self)}


SECRET_FIELDS = frozenset({"pkcs11_pin"})


def _pin_from_env() -> str:
    """PAPILLA_PKCS11_PIN, else the first line of the file PAPILLA_PKCS11_PIN_FILE, else empty."""
    pin = _env("PAPILLA_PKCS11_PIN", "")
    path = _env("PAPILLA_PKCS11_PIN_FILE", "")
    if pin or not path:
        return pin
    try:
        return Path(path).read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        raise ValueError("PAPILLA_PKCS11_PIN_FILE cannot be read or is empty") from None


_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@]*):(?P<password>[^@/]*)@", re.I)


def mask_secrets(text: str) -> str:
    """`amqp://user:pw@host` → `amqp://user:***@host`."""
    return _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
