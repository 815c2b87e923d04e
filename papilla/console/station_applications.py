"""The station console's spool page and the applications a person files at the branch.

Destruction (Rules 406 p.11) and withdrawal of consent (Rules 395 p.6) go to the centre as lifecycle requests
signed by the signed-in operator and sealed by the branch's service identity (`papilla request lifecycle`
does the same), and so do the subject's access request (Rules 395 p.15-16: the centre logs it and answers with
the date it is due) and the demand to block their data (Rules 395 p.25)."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papilla.client import PapillaClient, ResultTimeout
from papilla.services.capture.outbox import Outbox
from papilla.services.capture.spool import spool_facts
from papilla.shared.broker import check_broker, rabbitmq_broker
from papilla.shared.config import ConfigError
from papilla.shared.crypto.iin import InvalidIIN, validate_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal.roles import DESTRUCTION_APPLICANTS
from papilla.shared.parties import PartyError, centre_public_path, load_party

from .station_facts import keep_answers

#: what the person applies for -> the lifecycle action sent to the centre (None: not available here)
APPLICATIONS: dict[str, str | None] = {"destroy": "destroy", "withdraw_consent": "withdraw_consent",
                                       "access_request": "receive_access_request", "block_on_demand": "block_on_demand"}


def send_lifecycle(console, action: str, operator_id: str, iin: str, applicant: str, reason: str):
    """The centre's Result for a lifecycle request signed by the operator, sent as the branch's service."""
    settings, service_id = console.settings, console.config.service_id
    check_broker(settings.broker_url)
    client = PapillaClient.connect(broker_url=settings.broker_url, service_id=service_id,
                                   key_dir=settings.station_key_dir, centre_public_file=centre_public_path(settings))
    try:
        rid = client.lifecycle(action, principal=load_party(settings, operator_id), reason=reason, iin=iin,
                               on_application_of=applicant)
        return client.wait(rid, settings.result_wait_s)
    finally:
        client.close()


def flush_spool(console) -> int:
    settings, station_id = console.settings, console.config.station_id
    check_broker(settings.broker_url)
    keep_answers(settings.broker_url, station_id)
    broker = rabbitmq_broker(settings)
    try:
        return Outbox(settings.spool_dir / station_id, broker).flush()
    finally:
        broker.close()


def routes(console) -> list[Route]:
    spool_dir = console.settings.spool_dir / console.config.station_id

    def applications_page(request: Request, status: int = 200, **context) -> Response:
        return console.page(request, "station/applications.html", status=status, applications=APPLICATIONS,
                            applicants=DESTRUCTION_APPLICANTS, service_id=console.config.service_id, **context)

    async def spool(request: Request) -> Response:
        console.acting(request, "enroll")
        return console.page(request, "station/spool.html", facts=spool_facts(console.config.station_id, spool_dir))

    async def flush(request: Request) -> Response:
        session, _ = await console.form(request)
        console.require(session, "enroll")
        try:
            sent, problem = await run_in_threadpool(flush_spool, console), None
        except ConfigError as exc:
            sent, problem = 0, str(exc)
        return console.page(request, "station/spool.html", facts=spool_facts(console.config.station_id, spool_dir),
                            sent=sent, problem=problem)

    async def applications(request: Request) -> Response:
        console.signed_in(request)
        return applications_page(request)

    async def apply(request: Request) -> Response:
        session, form = await console.form(request)
        kind = form.get("application", "")
        action = APPLICATIONS.get(kind)
        if kind not in APPLICATIONS:
            return applications_page(request, 422, problem="choose the application from the list")
        console.require(session, action or "destroy")      # the role table, on the server, before anything else
        if action is None or console.config.service_id is None:
            return applications_page(request, 422, problem=f"{kind}: not available on this station")
        try:
            iin = validate_iin(form.get("iin", "").strip())
            applicant = form.get("on_application_of", "")
            if applicant not in DESTRUCTION_APPLICANTS:
                raise ValueError("say whose written application it is")
            result = await run_in_threadpool(send_lifecycle, console, action, session.principal_id, iin, applicant,
                                             form.get("reason", "").strip() or kind)
        except InvalidIIN as exc:
            return applications_page(request, 422, problem=f"not a valid IIN: {exc}")
        except (ValueError, ConfigError, PartyError, Refusal, ResultTimeout) as exc:
            return applications_page(request, 422, problem=str(exc).splitlines()[0])
        return applications_page(request, result=result)

    return [Route("/spool", spool), Route("/spool/flush", flush, methods=["POST"]),
            Route("/applications", applications), Route("/applications", apply, methods=["POST"])]
