"""`papilla console centre`: the processing centre's pages, over the centre's store and the lifecycle code.

Adjudication (PENDING_REVIEW; `centre_adjudication.py`): both ten-prints side by side with their minutiae and
paired minutiae, per-finger and fused scores against their thresholds, and a signed decision. Acts of destruction awaiting their two signatures (`destruction_acts.sign_act`: head of
unit, then a second person). The auditor's view: the trail verified, a subject's trail, refused attempts.
Every page and action is checked against the role table on the server; refusals are audited."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from papilla.services.lifecycle import destruction_acts
from papilla.shared import audit
from papilla.shared.centre import Centre
from papilla.shared.config import Settings
from papilla.shared.errors import Refusal
from papilla.shared.parties import PartyKeys, load_party
from papilla.shared.principals import sign

from . import centre_adjudication, centre_views
from .sessions import Session, SessionPolicy, SessionStore
from .signin import centre_principal
from .web import HERE, Console, View, install_handlers, set_language, sign_out

NAV = [("/queue", "nav_queue"), ("/acts", "nav_acts"), ("/audit", "nav_audit"), ("/dashboards", "nav_dashboards")]
AUDIT_VIEW = View(("auditor",), "the audit trail is read by the auditor (the centre's own division of duties)")
ACTS_VIEW = View(("head_of_unit", "administrator", "supervisor"),
                 "acts of destruction are signed by the head of the unit and a second person (Law Art.17 p.3)")
DASHBOARDS = (("Pipeline overview", "papilla_messages_total"), ("Dead letters", "papilla_dead_letters_unresolved"),
              ("Station spools", "papilla_station_spool_packets"),
              ("Overdue destruction applications", "papilla_destruction_applications_overdue"))
GRAFANA_DIR = Path(__file__).resolve().parents[2] / "infra" / "grafana"


@dataclass(frozen=True)
class CentreConsoleConfig:
    """prometheus_url: the Prometheus server linked from the dashboards page; sessions: expiry."""

    prometheus_url: str = "http://127.0.0.1:9090"
    sessions: SessionPolicy = SessionPolicy(cookie="papilla_centre")


class CentreConsole(Console):
    def __init__(self, config: CentreConsoleConfig, centre: Centre):
        super().__init__("app_centre", SessionStore(config.sessions), NAV, on_refused=self._audit_refusal)
        self.config, self.centre = config, centre
        self.lock = threading.Lock()       # one centre context; the store is used from the server's threads

    def _audit_refusal(self, session: Session, action: str, refusal: Refusal) -> None:
        with self.lock:
            audit.append(self.centre, "console_refused", subject_id=None, actor=session.principal_id or "anonymous",
                         details={"action": action, "role": session.role or "none", "code": refusal.code},
                         rule=refusal.rule)

    async def read(self, work, *args):
        """`work(centre, *args)` in a thread, one at a time."""
        def locked():
            with self.lock:
                return work(self.centre, *args)
        return await run_in_threadpool(locked)


def sign_act(centre: Centre, keys: PartyKeys, act_id: str, decision: str) -> str:
    act = centre.store.get(destruction_acts.ACTS, act_id)
    if act is None:
        raise Refusal(f"no act of destruction {act_id}", code="unknown_act")
    message = destruction_acts.ActSignature(act_id=act_id, digest=act["digest"], decision=decision,
                                            principal_id=keys.party_id)
    return destruction_acts.sign_act(centre, sign(message, "principal_signature", keys.signing))


def build_app(config: CentreConsoleConfig, settings: Settings | None = None, centre: Centre | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    console = CentreConsole(config, centre or Centre.open(settings))

    def keys_of(session: Session) -> PartyKeys:
        return load_party(settings, session.principal_id)

    async def home(request: Request) -> Response:
        session = console.session(request)
        start = {"auditor": "/audit", "head_of_unit": "/acts", "administrator": "/acts"}.get(session.role, "/queue")
        return RedirectResponse(start if session.signed_in else "/signin", status_code=303)

    async def signin_page(request: Request) -> Response:
        return console.page(request, "signin.html", expired=console.session(request).work.pop("expired", False))

    async def signin(request: Request) -> Response:
        session, form = await console.form(request)
        principal_id = form.get("principal_id", "").strip()
        try:
            _keys, role = await console.read(lambda c: centre_principal(settings, c.senders, principal_id))
        except Refusal as refusal:
            return console.page(request, "signin.html", status=403, refusal=refusal)
        request.state.session = console.sessions.sign_in(session, principal_id, role)
        return console.redirect(request, "/")

    async def acts(request: Request) -> Response:
        console.acting(request, "sign acts of destruction", ACTS_VIEW)
        return console.page(request, "centre/acts.html", acts=await console.read(centre_views.open_acts))

    async def act_sign(request: Request) -> Response:
        session, form = await console.form(request)
        decision = form.get("decision", "")
        if decision not in destruction_acts.DECISIONS:
            raise HTTPException(422, "approve or countersign")
        console.require(session, destruction_acts.DECISIONS[decision])
        try:
            state = await console.read(sign_act, keys_of(session), request.path_params["act_id"], decision)
        except Refusal as refusal:
            console.refused(session, destruction_acts.DECISIONS[decision], refusal)
        return console.page(request, "centre/acts.html", acts=await console.read(centre_views.open_acts),
                            signed=(request.path_params["act_id"], state))

    async def audit_page(request: Request) -> Response:
        console.acting(request, "read the audit trail", AUDIT_VIEW)
        report = await console.read(centre_views.audit_report)
        refused, dead = await console.read(centre_views.refused_attempts)
        return console.page(request, "centre/audit.html", report=report, refused=refused, dead=dead)

    async def audit_trail(request: Request) -> Response:       # POST: an IIN typed never goes into a URL
        session, form = await console.form(request)
        console.require(session, "read the audit trail", AUDIT_VIEW)
        subject_id = await console.read(centre_views.subject_of, form.get("subject", ""))
        entries = await console.read(centre_views.trail, subject_id) if subject_id else []
        report = await console.read(centre_views.audit_report)
        refused, dead = await console.read(centre_views.refused_attempts)
        return console.page(request, "centre/audit.html", report=report, refused=refused, dead=dead,
                            subject_id=subject_id, entries=entries, searched=True)

    async def dashboards(request: Request) -> Response:
        console.signed_in(request)
        files = sorted(p.name for p in GRAFANA_DIR.glob("**/*.json")) if GRAFANA_DIR.is_dir() else []
        return console.page(request, "centre/dashboards.html", prometheus=config.prometheus_url.rstrip("/"),
                            dashboards=DASHBOARDS, grafana=files)

    async def lang(request: Request) -> Response:
        return await set_language(console, request)

    async def signout(request: Request) -> Response:
        return await sign_out(console, request)

    routes = [Route("/", home), Route("/signin", signin_page), Route("/signin", signin, methods=["POST"]),
              Route("/signout", signout, methods=["POST"]), Route("/lang", lang, methods=["POST"]),
              *centre_adjudication.routes(console, keys_of),
              Route("/acts", acts), Route("/acts/{act_id}/sign", act_sign, methods=["POST"]),
              Route("/audit", audit_page), Route("/audit/trail", audit_trail, methods=["POST"]),
              Route("/dashboards", dashboards),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        console.centre.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    install_handlers(app, console)
    app.state.console = console
    return app
