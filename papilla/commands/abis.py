"""`papilla abis …`: Papilla as a MOSIP-compatible ABIS (docs/abis.md).

  papilla abis call REQUEST.json [--reply-to FILE]   process one MOSIP ABIS request offline, print the response
  papilla abis serve [--max-messages N]             answer requests from the request queue on the reply queue

Both run at the centre (its store and keys) for the partner named by PAPILLA_ABIS_SERVICE (a registered
service) and PAPILLA_ABIS_PRINCIPAL (the registered principal it acts for); PAPILLA_ABIS_PROFILE chooses the
response shape ("spec": MOSIP's ABIS API, "kit": the ABIS testing kit's schemas).
"""
from __future__ import annotations

# lazy imports: `papilla` imports every command module to build its parser, and the adapter pulls admission,
# the extraction engine and numba (JIT): units under MemoryDenyWriteExecute must not load them for other commands.

import json
import os
import signal
import sys
from pathlib import Path

from papilla.shared.broker import check_broker
from papilla.shared.centre import Centre
from papilla.shared.config import ConfigError, Settings
from papilla.shared.results import MemoryResultSink


def _context(settings: Settings):
    from papilla.services.abis.domain import AbisContext
    from papilla.services.abis.partner import AbisPartner
    from papilla.services.match.gallery import Gallery

    partner = AbisPartner.from_env()
    centre = Centre.open(settings, publisher=MemoryResultSink())   # MOSIP is answered on its own queue
    return AbisContext(centre=centre, gallery=Gallery(centre), partner=partner)


def _failed(response: dict) -> str | None:
    from papilla.services.abis.failures import WORDING, Reason

    if str(response.get("returnValue")) == "1":
        return None
    code = int(response.get("failureReason", 1))
    return f"request failed: reason {code}" + (f" ({WORDING[Reason(code)]})" if code in set(Reason) else "")


def call(args) -> int:
    from papilla.services.abis.service import handle

    path = Path(args.request)
    if not path.is_file():
        raise ConfigError(f"no request file at {path}")
    ctx = _context(Settings.from_env())
    try:
        response = handle(ctx, path.read_bytes())
    finally:
        ctx.centre.close()
    text = json.dumps(response, indent=2)
    print(text)
    if args.reply_to:
        Path(args.reply_to).write_text(text + "\n")
    problem = _failed(response)
    if problem:
        print(f"papilla: {problem}", file=sys.stderr)
        return 4
    return 0


def serve(args) -> int:
    from papilla.services.abis.failures import AbisFailure
    from papilla.services.abis.partner import check_registered
    from papilla.services.abis.queue import AbisQueueAdapter, QueueParams

    settings = Settings.from_env()
    check_broker(settings.broker_url)
    ctx = _context(settings)
    try:
        check_registered(ctx.centre.senders, ctx.partner)
    except AbisFailure as exc:  # the partner is not registered: one sentence
        ctx.centre.close()
        raise ConfigError(exc.detail) from None
    params = QueueParams(settings.broker_url,
                         os.environ.get("PAPILLA_ABIS_REQUEST_QUEUE", QueueParams.request_queue),
                         os.environ.get("PAPILLA_ABIS_REPLY_QUEUE", QueueParams.reply_queue))
    adapter = AbisQueueAdapter(ctx, params)
    signal.signal(signal.SIGTERM, lambda *_: adapter.stop.set())
    print(f"papilla abis: answering {params.request_queue} on {params.reply_queue} "
          f"(partner {ctx.partner.service_id}, profile {ctx.partner.profile})", file=sys.stderr, flush=True)
    try:
        answered = adapter.run(max_messages=args.max_messages)
    finally:
        adapter.close()
        ctx.centre.close()
    print(f"papilla abis: answered {answered} requests", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("abis", help="MOSIP ABIS adapter (call one request, or serve the queue)")
    sub = parser.add_subparsers(dest="abis_command", required=True, metavar="ACTION")
    p = sub.add_parser("call", help="process one MOSIP ABIS request file offline and print the response")
    p.add_argument("request", metavar="REQUEST.json")
    p.add_argument("--reply-to", metavar="FILE", help="also write the response JSON to FILE")
    p.set_defaults(func=call)
    p = sub.add_parser("serve", help="answer MOSIP ABIS requests from the request queue on the reply queue")
    p.add_argument("--max-messages", type=int, default=None, help="stop after answering N requests")
    p.set_defaults(func=serve)
