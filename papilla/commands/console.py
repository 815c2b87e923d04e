"""`papilla console station|centre`: the browser consoles (docs/console.md), bound to 127.0.0.1 by default.

  papilla console station ST-ID (--images DIR | --synthetic) [--service SVC-ID] [--port 8470]
  papilla console centre [--port 8471] [--prometheus-url http://127.0.0.1:9090]
  papilla console queue [--ids]             the adjudication queue (PENDING_REVIEW), in a terminal
  papilla console adjudicate ENROLLMENT --decision same_person_reject|distinct_person --principal ADJ --reason …

The station console signs operators in with their keys on the station (PAPILLA_STATION_KEY_DIR) and captures
through the station's workflow; the centre console runs at the centre (its store and keys) for adjudicators,
heads of unit and auditors. Bind another address with --host only behind a TLS proxy (--secure-cookie).
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, so the web server, the consoles and
# the services they drive are imported only when `papilla console …` runs.

import sys
from pathlib import Path

from papilla.shared.config import Settings
from papilla.shared.parties import PartyError

STATION_PORT, CENTRE_PORT = 8470, 8471


def _serve(app, args) -> int:
    import uvicorn   # imported here: the web server is loaded only by `papilla console`

    print(f"console on http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=args.access_log)
    return 0


def _policy(args, cookie: str):
    from papilla.console.sessions import SessionPolicy

    if args.idle_minutes <= 0:
        raise ValueError("--idle-minutes must be more than 0")
    return SessionPolicy(idle_s=args.idle_minutes * 60, secure=args.secure_cookie, cookie=cookie)


def station(args) -> int:
    # imported here: the web stack (starlette, jinja2) is loaded only by `papilla console`
    from papilla.console.station_app import ScanSource, StationConsoleConfig, build_app
    from papilla.shared.parties import load_centre_public, load_party

    settings = Settings.from_env()
    try:
        load_party(settings, args.station_id)       # a station with no keys here: one sentence, before serving
        load_centre_public(settings)
        if args.service:
            load_party(settings, args.service)
        if args.images and not Path(args.images).is_dir():
            raise ValueError(f"{args.images}: no such folder")
        config = StationConsoleConfig(args.station_id, ScanSource(Path(args.images) if args.images else None,
                                                                   args.synthetic),
                                      service_id=args.service, sessions=_policy(args, "papilla_station"))
    except (PartyError, ValueError) as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    return _serve(build_app(config, settings), args)


def centre(args) -> int:
    from papilla.console.centre_app import CentreConsoleConfig, build_app  # imported here: see station()

    settings = Settings.from_env()
    try:
        config = CentreConsoleConfig(prometheus_url=args.prometheus_url, sessions=_policy(args, "papilla_centre"))
        app = build_app(config, settings)
    except (PartyError, ValueError) as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    return _serve(app, args)


def _centre():
    from papilla.shared.centre import Centre   # imported here like the consoles: centre commands only

    return Centre.open(Settings.from_env())


def queue(args) -> int:
    from papilla.console import centre_views   # imported here: see station()

    try:
        centre = _centre()
    except PartyError as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    try:
        rows = centre_views.queue(centre)
    finally:
        centre.close()
    for r in rows:
        best = f"{r.best_score:.2f}" if r.best_score is not None else "-"
        print(r.enrollment_id if args.ids else
              f"{r.enrollment_id}  {r.reason or '-'}  from {r.station_id}: {r.candidates} candidate(s), "
              f"best fused score {best}")
    if not args.ids:
        print(f"{len(rows)} enrollment(s) awaiting adjudication")
    return 0


def adjudicate(args) -> int:
    """The adjudication page's decision from a terminal: the same signed command, checks and audit."""
    from papilla.console.centre_adjudication import adjudicate as decide   # imported here: see station()
    from papilla.shared.errors import Refusal
    from papilla.shared.parties import load_party

    if not args.enrollment_id.strip():
        print("papilla: name the enrollment to decide (`papilla console queue` lists them)", file=sys.stderr)
        return 2
    try:
        centre = _centre()
        keys = load_party(Settings.from_env(), args.principal)
    except PartyError as exc:
        print(f"papilla: {exc}", file=sys.stderr)
        return 2
    try:
        result = decide(centre, keys, args.enrollment_id.strip(), args.decision, args.reason)
    except Refusal as exc:
        print(f"papilla: refused: {exc.detail}" + (f" ({exc.rule})" if exc.rule else ""), file=sys.stderr)
        return 2
    finally:
        centre.close()
    if result.status == "REFUSED":
        print(f"papilla: refused: {result.detail or result.reason}" + (f" ({result.rule})" if result.rule else ""),
              file=sys.stderr)
        return 2
    rule = f", {result.rule}" if result.rule else ""
    print(f"enrollment {args.enrollment_id.strip()}: {result.status} (decided by {args.principal}{rule})")
    return 0


def _common(p, port: int) -> None:
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=port)
    p.add_argument("--idle-minutes", type=float, default=15, help="sign out after this long idle (default 15)")
    p.add_argument("--secure-cookie", action="store_true", help="cookie over HTTPS only (behind a TLS proxy)")
    p.add_argument("--access-log", action="store_true", help="log each request's method and path (ids only)")


def register(sub) -> None:
    parser = sub.add_parser("console", help="browser consoles: station operator, centre adjudicator and auditor")
    cs = parser.add_subparsers(dest="console_command", required=True)
    p = cs.add_parser("station", help="the branch operator's console")
    p.add_argument("station_id")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--images", help="the scanner's folder: one person's images, or a folder of such folders")
    src.add_argument("--synthetic", action="store_true", help="synthetic scanner (the operator types the seed)")
    p.add_argument("--service", help="the branch's service id that carries lifecycle applications to the centre")
    _common(p, STATION_PORT)
    p.set_defaults(func=station)
    p = cs.add_parser("centre", help="the centre's console: adjudication, acts of destruction, audit")
    p.add_argument("--prometheus-url", default="http://127.0.0.1:9090", help="linked from the dashboards page")
    _common(p, CENTRE_PORT)
    p.set_defaults(func=centre)
    p = cs.add_parser("queue", help="at the centre: enrollments awaiting adjudication (PENDING_REVIEW)")
    p.add_argument("--ids", action="store_true", help="only the enrollment ids, one a line")
    p.set_defaults(func=queue)
    p = cs.add_parser("adjudicate", help="at the centre: decide a possible duplicate, signed by the adjudicator")
    p.add_argument("enrollment_id")
    p.add_argument("--decision", required=True, choices=("same_person_reject", "distinct_person"))
    p.add_argument("--principal", required=True, help="the adjudicator whose key (on this machine) signs")
    p.add_argument("--reason", required=True)
    p.set_defaults(func=adjudicate)
