"""`papilla audit …`: the auditor's commands, at the centre (they need the audit key; docs/audit.md).

  papilla audit verify --principal P-ID [--checkpoint FILE …]
                                               check the whole trail: exit 0 intact, 1 with each problem named
  papilla audit show --principal P-ID [--subject ID] [--action A] [--actor ID] [--from SEQ] [--limit N] [--json]
                                               entries without personal data: ids, actions, principals, rules

`show` and `verify` are an auditor's acts: the principal (`papilla principal init P-ID --role auditor`,
registered at the centre) signs the request with their key and the centre checks the role; holding the audit
key is not enough. A refused attempt (unknown principal, wrong role, bad signature) is written to the trail.
  papilla audit checkpoint [--export FILE]     sign the current head now (after checking the trail)
"""
from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from tqdm import tqdm

from papilla.shared import audit_checkpoints
from papilla.shared.audit import append, record_refusal
from papilla.shared.audit_chain import COLLECTION, AuditPolicy, AuditTrail, read_head
from papilla.shared.audit_view import shown
from papilla.shared.audit_verify import Report, verify
from papilla.shared.config import ConfigError, Settings
from papilla.shared.crypto.errors import KeyProviderError
from papilla.shared.crypto.providers import open_key_provider
from papilla.shared.crypto.registry import SenderRegistry
from papilla.shared.errors import Refusal
from papilla.shared.messages import AuditAccess
from papilla.shared.metrics import PLANNED
from papilla.shared.parties import (CENTRE_SIGN_FILE, PartyError, centre_public_path, load_centre_keys,
                                    load_centre_public_file, load_party)
from papilla.shared.principals import check_signed_by, sign
from papilla.shared.store import open_store



def _trail(settings: Settings, *, sign: bool = False, public_key: str | None = None,
           checkpoints: bool = True) -> AuditTrail:
    """The trail as the auditor opens it: the store, the audit key, the centre's (public) key."""
    try:
        provider = open_key_provider(settings, create=False)
        provider.mac("audit", b"")            # a missing audit key is told now, in one sentence
    except KeyProviderError as exc:
        raise ConfigError(f"no audit key here: {exc}") from None
    signer = verify_key = None
    if not checkpoints:
        pass
    elif sign or (public_key is None and (settings.key_dir / CENTRE_SIGN_FILE).exists()):
        signer = load_centre_keys(settings).signing
    elif public_key is not None or centre_public_path(settings).is_file():
        verify_key = load_centre_public_file(Path(public_key) if public_key else centre_public_path(settings)).verify
    else:
        raise PartyError("no centre public key to check checkpoints with: pass --public-key FILE (the file "
                         "`papilla centre export-public-key` wrote)")
    return AuditTrail.of(open_store(settings.store_uri), provider, signer=signer, verify_key=verify_key,
                         policy=AuditPolicy.from_env(settings.home))


def check_auditor(trail: AuditTrail, access: AuditAccess) -> str:
    """The principal's role if they are a registered auditor who signed this request; otherwise the refusal is
    written to the trail (who tried, which command, the code) and raised."""
    try:
        return check_signed_by(SenderRegistry(trail.store), access.principal_id, access.principal_signature, access,
                               f"audit_{access.command}")
    except Refusal as refusal:
        record_refusal(trail, "audit_access_refused", actor=access.principal_id, code=refusal.code,
                       rule=refusal.rule, command=access.command)
        raise


def _as_auditor(settings: Settings, trail: AuditTrail, principal_id: str, command: str) -> None:
    keys = load_party(settings, principal_id)       # PartyError: no key of this principal here
    access = AuditAccess(command=command, principal_id=principal_id, at=datetime.now(timezone.utc))
    check_auditor(trail, sign(access, "principal_signature", keys.signing))


def _refused(trail: AuditTrail, exc: Refusal) -> int:
    trail.store.close()
    print(f"papilla: refused: {exc.detail}" + (f" ({exc.rule})" if exc.rule else ""), file=sys.stderr)
    return 2


def _summary(report: Report) -> str:
    head = "no head" if report.head_seq is None else f"head at entry {report.head_seq}"
    cp = report.checkpoint
    signed = f"latest signed checkpoint at entry {cp.seq} ({cp.at})" if cp else "no signed checkpoint yet"
    return f"{report.entries} entries, {head}, {signed}, {report.checkpoints_outside} checkpoint(s) read outside the store"


def write_metrics(path: str, report: Report) -> None:
    """The gauges the alert rules name, for node_exporter's textfile collector (docs/operations.md)."""
    registry = CollectorRegistry()
    for name, value in (("papilla_audit_verify_ok", 1 if report.ok else 0),
                        ("papilla_audit_verify_timestamp_seconds", time.time())):
        Gauge(name, PLANNED[name], registry=registry).set(value)
    write_to_textfile(path, registry)     # atomic: temp file + rename
    os.chmod(path, 0o644)                 # node_exporter runs as its own user


def verify_cmd(args) -> int:
    settings = Settings.from_env()
    trail = _trail(settings, public_key=args.public_key)
    try:
        _as_auditor(settings, trail, args.principal, "verify")
    except Refusal as exc:
        return _refused(trail, exc)
    files = [Path(f) for f in args.checkpoint]
    for path in files:
        if not path.is_file():
            raise ConfigError(f"no checkpoint file at {path}")
    head = read_head(trail.store)
    with tqdm(total=head["seq"] if head else None, unit="entry", desc="verifying", disable=None,
              file=sys.stderr) as bar:
        report = verify(trail, checkpoint_files=files, progress=bar)
    trail.store.close()
    if args.textfile:
        write_metrics(args.textfile, report)
    if report.ok:
        print(f"audit trail intact: {_summary(report)}")
        if not report.checkpoints_outside:
            print("note: no checkpoint was read from outside the store, so a tail removed together with its "
                  "head and store checkpoints would not show; pass the exported checkpoint with --checkpoint")
        return 0
    for problem in report.problems:
        print(f"{problem.kind.upper()}: {problem.sentence}")
    print(f"audit trail NOT intact: {len(report.problems)} problem(s); {_summary(report)}")
    return 1


def _line(row: dict) -> str:
    details = " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in row["details"].items())
    mark = "" if row["mac_ok"] else "  [MAC FAILS]"
    rule = f" rule={row['rule']}" if row["rule"] else ""
    return (f"{row['seq']:>7}  {row['at']}  {row['action']:<22} subject={row['subject_id'] or '-'} "
            f"actor={row['actor']}{rule} {details}{mark}").rstrip()


def show(args) -> int:
    settings = Settings.from_env()
    trail = _trail(settings, checkpoints=False)
    try:
        _as_auditor(settings, trail, args.principal, "show")
    except Refusal as exc:
        return _refused(trail, exc)
    query = {k: v for k, v in (("subject_id", args.subject), ("action", args.action)) if v}
    if args.from_seq is not None:
        query["_id"] = {"$gte": args.from_seq}
        found = trail.store.find(COLLECTION, query, sort=[("_id", 1)], limit=None if args.actor else args.limit)
    else:       # the latest ones, oldest first
        found = trail.store.find(COLLECTION, query, sort=[("_id", -1)], limit=None if args.actor else args.limit)
        found.reverse()
    rows = [shown(trail, e) for e in found if not args.actor or e.get("actor") == args.actor][-args.limit:]
    # who read what is itself an entry (after the entries read, so it is not among them; before any is shown)
    append(trail, "audit_read", subject_id=args.subject, actor=args.principal,
           details={"command": "show", **{k: v for k, v in (("action", args.action), ("actor", args.actor),
                                                            ("from", args.from_seq)) if v is not None},
                    "limit": args.limit, "entries": len(rows)})
    trail.store.close()
    for row in rows:
        print(json.dumps(row, sort_keys=True) if args.json else _line(row))
    if not args.json:
        print(f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
    return 0


def checkpoint(args) -> int:
    settings = Settings.from_env()
    trail = _trail(settings, sign=True)
    report = verify(trail)
    if not report.ok:
        trail.store.close()
        raise ConfigError(f"the trail is not intact ({report.problems[0].sentence}); run `papilla audit verify` "
                          "before signing its head")
    head = read_head(trail.store)
    if head is None or head["seq"] == 0:
        trail.store.close()
        raise ConfigError("the audit trail is empty: nothing to checkpoint")
    doc = audit_checkpoints.write_checkpoint(trail, head["seq"], head["mac"])
    trail.store.close()
    if args.export:
        audit_checkpoints.export(doc, Path(args.export))
    where = f" and {args.export}" if args.export else ""
    print(f"checkpoint of entry {doc['seq']} signed at {doc['at']}; kept in the store, "
          f"{trail.policy.checkpoint_file}{where}")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("audit", help="the audit trail: verify, show, checkpoint (auditor)")
    cmds = parser.add_subparsers(dest="audit_command", required=True)
    p = cmds.add_parser("verify", help="check every entry, the head and the signed checkpoints")
    p.add_argument("--principal", required=True, help="the auditor's principal id (role auditor)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FILE",
                   help="a checkpoint file or exported checkpoint to check the trail against (repeatable)")
    p.add_argument("--public-key", metavar="FILE", help="the centre's public key file (default: the centre's own key)")
    p.add_argument("--textfile", metavar="FILE", help="also write papilla_audit_verify_ok and its timestamp for "
                                                      "node_exporter's textfile collector")
    p.set_defaults(func=verify_cmd)
    p = cmds.add_parser("show", help="entries without personal data")
    p.add_argument("--principal", required=True, help="the auditor's principal id (role auditor)")
    p.add_argument("--subject", help="only this pseudonymous subject id")
    p.add_argument("--action")
    p.add_argument("--actor", help="only this principal or service id")
    p.add_argument("--from", dest="from_seq", type=int, metavar="SEQ", help="from this entry on (default: the latest)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=show)
    p = cmds.add_parser("checkpoint", help="sign the current head now (centre only)")
    p.add_argument("--export", metavar="FILE", help="also write the checkpoint to FILE for the auditor")
    p.set_defaults(func=checkpoint)
