"""The station console's enrollment pages: identity, decision, consent, capture, receipt (one flow per session).

Every step runs the station's own checks (`shared.crypto.iin`, `shared.legal.eligibility`, `shared.legal.decide`)
so the operator sees a refusal and its citation before any finger is scanned; `Station.enroll` runs them all
again when capture starts. Nothing personal is put in a URL: the fields are POSTed and kept in the session."""
from __future__ import annotations

import logging
import secrets
import time
from datetime import date, datetime, timezone

import pika
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from papilla.client import RabbitResultWaiter, ResultOpener, ResultTimeout
from papilla.services.capture import centre_status
from papilla.services.capture.devices import FolderScanner
from papilla.services.capture.outbox import Outbox
from papilla.services.capture.station import ConsentForm, QualityGate, Station, default_signer
from papilla.services.capture.synthetic.scanner import SyntheticScanner
from papilla.services.capture.workflow import EXCEPTION_RULES, FINGER_NAMES, Choice
from papilla.shared.broker import BrokerUnreachable, check_broker, rabbitmq_broker
from papilla.shared.config import ConfigError
from papilla.shared.crypto.iin import InvalidIIN, birth_date_from_iin, validate_iin
from papilla.shared.errors import Refusal
from papilla.shared.legal import eligibility
from papilla.shared.legal.bases import BASES
from papilla.shared.legal.decide import Application, Decision, Policy, decide
from papilla.shared.messages import DOCUMENT_TYPES, SIGNERS, Applicant, IdentityDocument
from papilla.shared.parties import PartyError, load_centre_public, load_party

from . import station_capture
from .station_capture import CaptureRun
from .web import Forbidden
from .station_facts import finger_statuses, keep_answers

FIELDS = ("iin", "full_name", "document_type", "document_number", "document_birth_date", "basis", "citizenship",
          "capacity")
log = logging.getLogger(__name__)
CHOICES = {"basis": tuple(BASES), "citizenship": ("citizen", "foreigner", "stateless"),
           "capacity": ("full", "limited", "incapacitated"), "document_type": DOCUMENT_TYPES}


def iin_sentence(exc: InvalidIIN) -> str:
    return f"not a valid IIN: {exc} (check: {exc.reason.replace('_', ' ')})"


def validation_sentence(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                     for e in exc.errors(include_input=False, include_context=False))


def application_of(fields: dict, now: datetime) -> tuple[Applicant, Application]:
    """The applicant and the application as `Station.enroll` builds them (raises InvalidIIN, ValidationError,
    ValueError, Refusal: each shown as one sentence)."""
    for name, allowed in CHOICES.items():
        if fields.get(name) not in allowed:
            raise ValueError(f"choose a {name.replace('_', ' ')} from the list")
    iin = validate_iin(fields.get("iin", "").strip())
    document = IdentityDocument(type=fields["document_type"], number=fields.get("document_number", "").strip(),
                                birth_date=date.fromisoformat(fields.get("document_birth_date") or "0001-01-01"))
    applicant = Applicant(iin=iin, full_name=fields.get("full_name", "").strip(), legal_capacity=fields["capacity"],
                          citizenship=fields["citizenship"], present=(), document=document)
    eligibility.check_identity(applicant)
    application = Application(basis=fields["basis"], birth=birth_date_from_iin(iin), applied_at=now,
                              citizenship=fields["citizenship"], capacity=fields["capacity"], present=(),
                              fingers={p: "captured" for p in range(1, 11)}, previously_registered=False)
    return applicant, application


#: a REGISTERED answer holds for the session this long before the centre is asked again
STATUS_FRESH_S = 600.0


def centre_allows(console, operator_id: str) -> str | None:
    """Ask the centre whether this station and operator may enroll now (`centre_status.ask_centre`). None when
    it says so; a sentence when the check could not be made (the operator may still capture into the spool);
    raises the centre's Refusal when it refuses."""
    settings, station_id = console.settings, console.config.station_id
    try:
        keys, centre = load_party(settings, station_id), load_centre_public(settings)
        operator = load_party(settings, operator_id)
        check_broker(settings.broker_url)
        keep_answers(settings.broker_url, station_id)
        waiter = RabbitResultWaiter(settings.broker_url, station_id, ResultOpener(keys, centre))
    except (BrokerUnreachable, pika.exceptions.AMQPError, ConfigError) as exc:
        return f"the centre could not be asked ({str(exc).splitlines()[0]})"
    except PartyError as exc:
        raise Refusal(str(exc), code="no_keys") from None
    broker = rabbitmq_broker(settings)
    try:
        centre_status.ask_centre(station_id=station_id, signing_key=keys.signing, centre_public=centre.box,
                                 operator=operator, broker=broker, wait=waiter.wait,
                                 timeout_s=console.config.run.status_wait_s)
        return None
    except centre_status.StatusNotChecked as exc:
        return str(exc)
    finally:
        waiter.close()
        broker.close()


async def checked_with_centre(console, request: Request, session) -> str | None:
    """The enrollment flow's first step: a refusal page when the centre refuses this station or operator,
    otherwise None or the sentence saying the check was not made (shown on the identity page)."""
    if session.work.get("centre_ok_until", 0.0) > time.monotonic():
        return None
    try:
        not_checked = await run_in_threadpool(centre_allows, console, session.principal_id)
    except Refusal as refusal:
        log.info("the centre refused enrollment at this station to %s: %s", session.principal_id, refusal.code)
        raise Forbidden(refusal) from None
    if not_checked is None:
        session.work["centre_ok_until"] = time.monotonic() + STATUS_FRESH_S
    return not_checked


def routes(console) -> list[Route]:
    config, settings = console.config, console.settings

    def identity_page(request: Request, status: int = 200, **context) -> Response:
        return console.page(request, "station/identity.html", status=status, choices=CHOICES,
                            fields=context.pop("fields", {"basis": "public_service_authentication",
                                                          "citizenship": "citizen", "capacity": "full",
                                                          "document_type": "id_card"}), **context)

    async def enroll(request: Request) -> Response:
        session = console.acting(request, "enroll")
        run = session.work.get("run")
        if run is not None and not run.done:
            return console.redirect(request, "/enroll/capture")
        return identity_page(request, not_checked=await checked_with_centre(console, request, session))

    async def check_iin(request: Request) -> Response:          # htmx: the IIN as it is typed (POSTed)
        session, form = await console.form(request)
        console.require(session, "enroll")
        try:
            born = birth_date_from_iin(form.get("iin", "").strip())
            return console.page(request, "station/_iin.html", ok=True, born=born)
        except InvalidIIN as exc:
            return console.page(request, "station/_iin.html", ok=False, sentence=iin_sentence(exc))

    async def identity(request: Request) -> Response:
        session, form = await console.form(request)
        console.require(session, "enroll")
        fields = {k: form.get(k, "") for k in FIELDS}
        try:
            applicant, application = application_of(fields, datetime.now(timezone.utc))
            decision = decide(application, Policy.from_env())
        except InvalidIIN as exc:
            return identity_page(request, 422, fields=fields, problem=iin_sentence(exc))
        except ValidationError as exc:
            return identity_page(request, 422, fields=fields, problem=validation_sentence(exc))
        except Refusal as exc:
            return identity_page(request, 422, fields=fields, problem=exc.detail, problem_rule=exc.rule)
        except ValueError as exc:
            return identity_page(request, 422, fields=fields, problem=str(exc).splitlines()[0])
        session.work.update(fields=fields, decision=decision)
        signer, _ = default_signer(fields["capacity"], ())
        return console.page(request, "station/decision.html", decision=decision, signer=signer, signers=SIGNERS,
                            consent_needed=eligibility.consent_required(decision), today=date.today(),
                            folders=config.scan.folders(), synthetic=config.scan.synthetic,
                            absent_choices=tuple(EXCEPTION_RULES))

    async def consent(request: Request) -> Response:
        session, form = await console.form(request)
        console.require(session, "enroll")
        fields, decision = session.work.get("fields"), session.work.get("decision")
        if fields is None or not isinstance(decision, Decision) or not decision.allows:
            return console.redirect(request, "/enroll")
        try:
            form_record = consent_form(form, decision)
            scanner = scanner_of(config.scan, form)
            statuses = finger_statuses(scanner, form.get("absent") or None)
        except ValueError as exc:
            return console.page(request, "error.html", status=422, detail=str(exc).splitlines()[0], back="/enroll")
        run = CaptureRun(gate=settings.min_finger_quality)
        session.work.update(run=run, fields=None)
        await run_in_threadpool(start_run, console, run, session.principal_id, fields, form_record, scanner,
                                statuses)
        return console.redirect(request, "/enroll/capture")

    async def capture(request: Request) -> Response:
        session = console.acting(request, "enroll")
        return console.page(request, "station/capture.html", run=_run(session), names=FINGER_NAMES,
                            reasons=tuple(EXCEPTION_RULES))

    async def capture_state(request: Request) -> Response:     # htmx polling
        session = console.acting(request, "enroll")
        return console.page(request, "station/_capture_state.html", run=_run(session), names=FINGER_NAMES,
                            reasons=tuple(EXCEPTION_RULES))

    async def preview(request: Request) -> Response:
        session = console.acting(request, "enroll")
        position = request.path_params["position"]
        image = _run(session).previews.get(position)
        if image is None:
            raise HTTPException(404, "no capture of this finger yet")
        return console.finish(Response(image.png, media_type="image/png"), session)

    async def choice(request: Request) -> Response:
        session, form = await console.form(request)
        console.require(session, "enroll")
        action = form.get("action", "")
        try:
            picked = Choice(action, form.get("status") if action == "exception" else None)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        _run(session).answer(picked)
        return console.redirect(request, "/enroll/capture")

    return [Route("/enroll", enroll), Route("/enroll/iin", check_iin, methods=["POST"]),
            Route("/enroll/identity", identity, methods=["POST"]),
            Route("/enroll/consent", consent, methods=["POST"]), Route("/enroll/capture", capture),
            Route("/enroll/capture/state", capture_state),
            Route("/enroll/capture/preview/{position:int}", preview),
            Route("/enroll/capture/choice", choice, methods=["POST"])]


def _run(session) -> CaptureRun:
    run = session.work.get("run")
    if run is None:
        raise HTTPException(303, headers={"Location": "/enroll"})
    return run


def consent_form(form: dict, decision: Decision) -> ConsentForm | None:
    """The Annex form's facts as typed; None when the basis needs no consent and none was typed."""
    ref = form.get("consent_ref", "").strip()
    if not ref and not eligibility.consent_required(decision):
        return None
    try:
        signed_on = date.fromisoformat(form.get("consent_signed_on", ""))
    except ValueError:
        raise ValueError("the date of consent on the form is missing or not a date") from None
    return ConsentForm(signature_ref=ref, signed_on=signed_on,
                       conditions_explained=form.get("conditions_explained") == "yes",
                       signed_by=form.get("signed_by") or "subject", application_ref=form.get("application_ref") or None)


def scanner_of(scan, form: dict):
    """The scanner for this enrollment: the synthetic one with the seed typed, or the (picked) image folder."""
    if scan.synthetic:
        seed = form.get("synthetic_seed", "")
        if not seed.isdigit():
            raise ValueError("type the synthetic person's seed (a whole number)")
        return SyntheticScanner(person_seed=int(seed), session_seed=secrets.randbelow(2**31))
    folders = scan.folders()
    if folders:
        if form.get("folder") not in folders:
            raise ValueError("pick the scanner's folder from the list")
        return FolderScanner.from_folder(scan.images / form["folder"])
    return FolderScanner.from_folder(scan.images)


def start_run(console, run: CaptureRun, operator_id: str, fields: dict, consent: ConsentForm | None, scanner,
              statuses: dict[int, str]) -> None:
    """Build the station as `papilla station enroll` does and start `Station.enroll` in its thread."""
    settings, station_id = console.settings, console.config.station_id
    try:
        keys, centre = load_party(settings, station_id), load_centre_public(settings)
        operator = load_party(settings, operator_id)
        check_broker(settings.broker_url)
        keep_answers(settings.broker_url, station_id)        # the centre's answer waits on the station's queue
    except BrokerUnreachable:
        pass                                                  # an outage: the packet waits in the spool
    except (PartyError, ConfigError) as exc:
        station_capture._ended(run, "failed", str(exc))
        return
    broker = rabbitmq_broker(settings)
    station = Station(station_id=station_id, signing_key=keys.signing, centre_public=centre.box,
                      outbox=Outbox(settings.spool_dir / station_id, broker),
                      gate=QualityGate(min_quality=settings.min_finger_quality))

    def enroll_then_close(**args):
        try:
            return station.enroll(**args)
        finally:
            broker.close()

    def await_decision(receipt):
        try:
            waiter = RabbitResultWaiter(settings.broker_url, station_id, ResultOpener(keys, centre))
        except pika.exceptions.AMQPError:     # the broker went away since sending: the answer waits in the queue
            return None
        try:
            return waiter.wait(receipt.packet_id, console.config.run.decision_wait_s)
        except ResultTimeout:
            return None
        finally:
            waiter.close()

    station_capture.start(run, enroll_then_close, await_decision, console.config.run, scanner,
                          iin=fields["iin"].strip(), full_name=fields["full_name"].strip(),
                          document=IdentityDocument(type=fields["document_type"],
                                                    number=fields["document_number"].strip(),
                                                    birth_date=date.fromisoformat(fields["document_birth_date"])),
                          consent=consent, operator=operator, finger_status=statuses,
                          legal_capacity=fields["capacity"], basis=fields["basis"],
                          citizenship=fields["citizenship"])
