"""`papilla console station`: the branch operator's pages, on the station's own workflow code.

Sign-in with the operator's key on this station -> identity by document (IIN checked as it is typed) -> the
legal decision with its citation -> the Annex consent record -> ten-finger capture with each finger's preview
and quality, retake / exception with reason / abort when a finger stays below the gate -> the receipt with the
rule applied and the centre's decision. Beside it: the spool and its state, and the applications a person
files at the branch (destruction, withdrawal of consent) sent to the centre as signed lifecycle requests."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from papilla.shared.config import Settings
from papilla.shared.errors import Refusal

from . import station_applications, station_enroll
from .sessions import Session, SessionPolicy, SessionStore
from .signin import station_principal
from .station_capture import RunPolicy
from .web import HERE, Console, install_handlers, set_language, sign_out

NAV = [("/enroll", "nav_enroll"), ("/spool", "nav_spool"), ("/applications", "nav_applications")]


@dataclass(frozen=True)
class ScanSource:
    """Where the console's scanner takes images from.

    images:    a folder of one person's images (1.png … 10.png, FVC's 101_1.tif …), or a folder of such
               folders (the operator picks one per enrollment: a replay or test bench)
    synthetic: the synthetic scanner (the operator types the synthetic person's seed); for demos and tests
    """

    images: Path | None = None
    synthetic: bool = False

    def folders(self) -> list[str]:
        """The person folders the operator may pick ([] when `images` itself is one person's folder)."""
        if self.images is None or not self.images.is_dir():
            return []
        return sorted(p.name for p in self.images.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class StationConsoleConfig:
    """What `papilla console station` serves.

    station_id: this station (its keys in PAPILLA_STATION_KEY_DIR, registered at the centre)
    scan:       the scanner's source
    service_id: the branch's service identity that carries lifecycle applications to the centre (None: the
                applications page says how to get one)
    sessions:   session expiry; run: how long capture waits for people
    """

    station_id: str
    scan: ScanSource
    service_id: str | None = None
    sessions: SessionPolicy = SessionPolicy(cookie="papilla_station")
    run: RunPolicy = RunPolicy()


class StationConsole(Console):
    def __init__(self, config: StationConsoleConfig, settings: Settings):
        super().__init__("app_station", SessionStore(config.sessions, on_end=_cancel_run), NAV)
        self.config, self.settings = config, settings


def _cancel_run(session: Session) -> None:
    run = session.work.get("run")
    if run is not None:
        run.cancel()


def build_app(config: StationConsoleConfig, settings: Settings | None = None) -> Starlette:
    console = StationConsole(config, settings or Settings.from_env())

    async def home(request: Request) -> Response:
        return RedirectResponse("/enroll" if console.session(request).signed_in else "/signin", status_code=303)

    async def signin_page(request: Request) -> Response:
        session = console.session(request)
        return console.page(request, "signin.html", expired=session.work.pop("expired", False))

    async def signin(request: Request) -> Response:
        session, form = await console.form(request)
        principal_id = form.get("principal_id", "").strip()
        try:
            _keys, role = await run_in_threadpool(station_principal, console.settings, principal_id)
        except Refusal as refusal:
            return console.page(request, "signin.html", status=403, refusal=refusal)
        request.state.session = console.sessions.sign_in(session, principal_id, role)
        return console.redirect(request, "/enroll")

    async def lang(request: Request) -> Response:
        return await set_language(console, request)

    async def signout(request: Request) -> Response:
        return await sign_out(console, request)

    routes = [Route("/", home), Route("/signin", signin_page), Route("/signin", signin, methods=["POST"]),
              Route("/signout", signout, methods=["POST"]), Route("/lang", lang, methods=["POST"]),
              *station_enroll.routes(console), *station_applications.routes(console),
              Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")]
    app = Starlette(routes=routes)
    install_handlers(app, console)
    app.state.console = console
    return app
