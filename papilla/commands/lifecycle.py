"""`papilla lifecycle …` at the centre: retention sweep, acts of destruction, term-starting events, access requests.

  papilla lifecycle sweep [--today DATE]                    archive what is due, propose destruction, carry out approved acts
  papilla lifecycle acts                                    acts of destruction and their signatures
  papilla lifecycle sign ACT-ID --decision approve|countersign --principal P-ID
  papilla lifecycle event --id EVT --iin … --event death --on DATE --document REF --principal P-ID
  papilla lifecycle access receive --id REQ --iin … --principal P-ID [--applicant subject]
  papilla lifecycle access answer REQ --principal P-ID      prints the report (JSON)
  papilla lifecycle access refuse REQ --reason CODE --principal P-ID
  papilla lifecycle access overdue                          open requests past their due date
  papilla lifecycle anonymized-export --id EXP --purpose TEXT --principal P-ID --out FILE [--k 5]
                                                            anonymized statistics (Rules 395 p.20-21)
  papilla lifecycle transfer-export REQ --out FILE          the sealed export of a transfer, for delivery

Acts are signed with the principal's key from `papilla principal init` (PAPILLA_STATION_KEY_DIR). Dates
follow the centre's clock (PAPILLA_CLOCK overrides it, for tests). Schedule `sweep` daily (docs/legal.md).
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so a command imports the services
# it runs (numba kernels, dramatiq, the store) inside its function, not for every `papilla --help`.

import json
import sys
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from papilla.shared.config import ConfigError, Settings
from papilla.shared.errors import Refusal
from papilla.shared.parties import PartyError


def _centre():
    from papilla.shared.centre import Centre
    from papilla.shared.results import MemoryResultSink

    return Centre.open(Settings.from_env(), publisher=MemoryResultSink())


def _signed(message, principal_id: str):
    from papilla.shared.parties import load_party
    from papilla.shared.principals import sign

    return sign(message, "principal_signature", load_party(Settings.from_env(), principal_id).signing)


def _run(work) -> int:
    """Run `work(centre)`; a refusal or a configuration mistake is one sentence and a non-zero exit."""
    try:
        centre = _centre()
    except (ConfigError, PartyError) as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    try:
        return int(work(centre) or 0)
    except Refusal as exc:
        print(f"papilla: refused: {exc.detail}" + (f" ({exc.rule})" if exc.rule else ""), file=sys.stderr)
        return 2
    except ValidationError as exc:     # pydantic hides the input: field and reason only
        err = exc.errors(include_input=False)[0]
        print(f"papilla: {'.'.join(map(str, err['loc']))}: {err['msg']}", file=sys.stderr)
        return 2
    except (ConfigError, PartyError, ValueError) as exc:
        print(f"papilla: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        centre.close()


def sweep(args) -> int:
    from papilla.services.lifecycle import retention

    def work(centre):
        from papilla.shared import clock

        today = args.today or clock.today()
        with tqdm(total=len(retention.due(centre, today)), desc="retention sweep", unit="record",
                  disable=args.quiet) as bar:
            report = retention.sweep(centre, today=today, on_item=bar.update)
        print(f"{today}: archived {len(report.archived)}, proposed for destruction {len(report.proposed)}"
              + (f" in act {report.act_id}" if report.act_id else "")
              + f", held (blocked) {len(report.held_blocked)}, acts carried out {len(report.executed)}")
        return 0
    return _run(work)


def acts(args) -> int:
    from papilla.services.lifecycle import destruction_acts

    def work(centre):
        for act in centre.store.find(destruction_acts.ACTS, {}, sort=[("_id", 1)]):
            signed = ", ".join(f"{s['decision']} by {s['principal_id']} ({s['role']})" for s in act["signatures"])
            print(f"{act['_id']}  {act['state']:<9} {len(act['items'])} record(s)  digest {act['digest'][:16]}  "
                  f"{signed or 'no signatures'}")
        return 0
    return _run(work)


def sign_act(args) -> int:
    from papilla.services.lifecycle import destruction_acts

    def work(centre):
        act = centre.store.get(destruction_acts.ACTS, args.act_id)
        if act is None:
            raise Refusal(f"no act of destruction {args.act_id}", code="unknown_act")
        message = destruction_acts.ActSignature(act_id=args.act_id, digest=act["digest"], decision=args.decision,
                                                principal_id=args.principal)
        print(f"act {args.act_id}: {destruction_acts.sign_act(centre, _signed(message, args.principal))}")
        return 0
    return _run(work)


def event(args) -> int:
    from papilla.services.lifecycle import retention

    def work(centre):
        act = retention.RetentionEvent(event_id=args.id, iin=args.iin, event=args.event, occurred_on=args.on,
                                       document_ref=args.document, principal_id=args.principal)
        outcome = retention.record_event(centre, _signed(act, args.principal))
        print(f"event {outcome.event_id} recorded; storage terms started: {outcome.terms_started} ({outcome.rule})")
        return 0
    return _run(work)


def access_cmd(args) -> int:
    from papilla.services.lifecycle import access

    def work(centre):
        if args.access_command == "receive":
            request = access.AccessRequest(request_id=args.id, iin=args.iin, applicant=args.applicant,
                                           principal_id=args.principal)
            doc = access.receive(centre, _signed(request, args.principal))
            print(f"access request {doc['_id']} received; answer due by {doc['due_on']} ({doc['rule']})")
        elif args.access_command in ("answer", "refuse"):
            decision = access.AccessDecision(request_id=args.request_id, decision=args.access_command,
                                             reason=getattr(args, "reason", None), principal_id=args.principal)
            out = access.decide(centre, _signed(decision, args.principal))
            print(out.to_json() if isinstance(out, access.AccessReport) else
                  f"refused: {out['explanation']} ({out['rule']})")
        else:
            ids = access.overdue(centre)
            print("\n".join(ids + [f"{len(ids)} overdue access request(s)"]))
        return 0
    return _run(work)


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}") from None


def anonymized_export(args) -> int:
    from papilla.services.lifecycle import anonymized

    def work(centre):
        if args.k < 2:
            raise ValueError("--k must be at least 2: a group of one singles a person out")
        order = anonymized.ExportOrder(export_id=args.id, purpose=args.purpose, principal_id=args.principal)
        out = anonymized.export(centre, _signed(order, args.principal), anonymized.AnonymizationParams(k=args.k))
        _write(args.out, (json.dumps(out, indent=1) + "\n").encode())
        print(f"{len(out['rows'])} row(s), {out['suppressed_records']} record(s) in groups under {args.k} suppressed;"
              f" written to {args.out} ({out['rule']})")
        return 0
    return _run(work)


def transfer_export(args) -> int:
    from papilla.services.lifecycle import transfers

    def work(centre):
        sealed = transfers.sealed_export(centre, args.request_id)   # the recipient's kind checked again
        doc = centre.store.get(transfers.TRANSFERS, args.request_id)
        _write(args.out, sealed)
        print(f"transfer {args.request_id}: sealed to {doc['recipient_id']} ({doc['recipient_kind']}), "
              f"written to {args.out}")
        return 0
    return _run(work)


def register(sub) -> None:
    from papilla.services.lifecycle.access import REFUSAL_REASONS
    from papilla.shared.legal.bases import TERM_EVENTS

    parser = sub.add_parser("lifecycle", help="retention sweep, acts of destruction, events, access requests")
    cmds = parser.add_subparsers(dest="lifecycle_command", required=True)
    p = cmds.add_parser("sweep", help="archive what is due, propose destruction, carry out approved acts")
    p.add_argument("--today", type=date.fromisoformat, help="sweep as of this date (default: the centre's clock)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=sweep)
    cmds.add_parser("acts", help="acts of destruction and their signatures").set_defaults(func=acts)
    p = cmds.add_parser("sign", help="sign an act of destruction (head of unit: approve; second person: countersign)")
    p.add_argument("act_id")
    p.add_argument("--decision", required=True, choices=("approve", "countersign"))
    p.add_argument("--principal", required=True)
    p.set_defaults(func=sign_act)
    p = cmds.add_parser("event", help="record death, missing status or loss of citizenship (authorised body)")
    p.add_argument("--id", required=True)
    p.add_argument("--iin", required=True)
    p.add_argument("--event", required=True, choices=TERM_EVENTS)
    p.add_argument("--on", required=True, type=date.fromisoformat, help="date of the fact (YYYY-MM-DD)")
    p.add_argument("--document", required=True, help="reference of the death record or court decision")
    p.add_argument("--principal", required=True)
    p.set_defaults(func=event)
    acc = cmds.add_parser("access", help="the subject's access requests (Rules 395 p.15-16)")
    acc_cmds = acc.add_subparsers(dest="access_command", required=True)
    p = acc_cmds.add_parser("receive")
    p.add_argument("--id", required=True)
    p.add_argument("--iin", required=True)
    p.add_argument("--applicant", default="subject", choices=("subject", "legal_representative", "custodian"))
    p.add_argument("--principal", required=True)
    p = acc_cmds.add_parser("answer")
    p.add_argument("request_id")
    p.add_argument("--principal", required=True)
    p = acc_cmds.add_parser("refuse")
    p.add_argument("request_id")
    p.add_argument("--reason", required=True, choices=tuple(REFUSAL_REASONS))
    p.add_argument("--principal", required=True)
    acc_cmds.add_parser("overdue")
    acc.set_defaults(func=access_cmd)
    p = cmds.add_parser("anonymized-export", help="anonymized statistics for distribution (Rules 395 p.20-21)")
    p.add_argument("--id", required=True)
    p.add_argument("--purpose", required=True)
    p.add_argument("--principal", required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--k", type=int, default=5, help="smallest group published (default 5)")
    p.set_defaults(func=anonymized_export)
    p = cmds.add_parser("transfer-export", help="write a transfer's sealed export to a file, for delivery")
    p.add_argument("request_id")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=transfer_export)
