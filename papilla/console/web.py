"""What both consoles share: rendering, sessions, CSRF on every POST, the role guard, security headers.

Personal data never travels in a URL (forms are POSTed; pages are addressed by opaque ids) and never reaches
a log: the access log of the server shows paths only, and this module logs nothing but ids and codes."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from papilla.shared.errors import Refusal
from papilla.shared.legal.roles import ROLES, check_permitted

from .i18n import LANGUAGES, label, language_of
from .sessions import Session, SessionStore

log = logging.getLogger("papilla.console")
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
#: No script but our own file, no frames, no referrer, nothing cached (pages show personal data).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class View:
    """A console page that is not a lifecycle action (those are in `shared.legal.roles.PERMISSIONS`): who may
    open it and why (the centre's own division of duties)."""

    roles: tuple[str, ...]
    why: str


class Forbidden(Exception):
    """A refusal to show on the page: the domain's sentence and citation."""

    def __init__(self, refusal: Refusal):
        super().__init__(refusal.detail)
        self.refusal = refusal


class Console:
    """The state one console app keeps: its sessions and its title; `on_refused` records a refused attempt."""

    def __init__(self, title_key: str, sessions: SessionStore, nav: list[tuple[str, str]],
                 on_refused: Callable[[Session, str, Refusal], None] | None = None):
        self.title_key, self.sessions, self.nav = title_key, sessions, nav
        self.on_refused = on_refused or (lambda s, a, r: None)

    # --- sessions -----------------------------------------------------------------------------------------
    def session(self, request: Request) -> Session:
        """The caller's session; a new anonymous one when there is none (or it expired)."""
        found = self.sessions.get(request.cookies.get(self.sessions.policy.cookie))
        if found is None:
            found = self.sessions.new(language_of(None, request.headers.get("accept-language")))
            found.work["expired"] = bool(request.cookies.get(self.sessions.policy.cookie))
        request.state.session = found
        return found

    def signed_in(self, request: Request) -> Session:
        session = self.session(request)
        if not session.signed_in:
            raise HTTPException(303, headers={"Location": "/signin"})
        return session

    async def form(self, request: Request) -> tuple[Session, dict]:
        """A POST's session and fields, after the CSRF check (the session's token in the form or the header)."""
        session = self.session(request)
        form = await request.form()
        token = form.get("csrf") or request.headers.get("x-csrf-token") or ""
        if not secrets.compare_digest(str(token), session.csrf):
            log.warning("refused a POST to %s without the session's CSRF token", request.url.path)
            raise HTTPException(403, "the form is not from this session (CSRF token missing or wrong): reload")
        return session, {k: str(v) for k, v in form.items() if k != "csrf"}

    # --- roles --------------------------------------------------------------------------------------------
    def require(self, session: Session, action: str, view: View | None = None) -> None:
        """Refuse unless the signed-in principal's role may do `action` (the role table) or open `view`."""
        try:
            if view is None:
                check_permitted(action, session.role)
            elif session.role not in view.roles:
                raise Refusal(f"a principal with role {session.role or 'none'} may not {action}: {view.why} "
                              f"(roles: {', '.join(view.roles)})", code="role_not_permitted")
        except Refusal as refusal:
            self.refused(session, action, refusal)

    def acting(self, request: Request, action: str, view: View | None = None) -> Session:
        """The signed-in session, if its role may do `action` (or open `view`); else a refusal page."""
        session = self.signed_in(request)
        self.require(session, action, view)
        return session

    def refused(self, session: Session, action: str, refusal: Refusal):
        log.info("refused %s to principal %s: %s", action, session.principal_id, refusal.code)
        self.on_refused(session, action, refusal)
        raise Forbidden(refusal)

    # --- pages --------------------------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context) -> Response:
        session = getattr(request.state, "session", None) or self.session(request)
        lang = session.lang
        response = TEMPLATES.TemplateResponse(request, name, {
            "s": session, "t": lambda key: label(key, lang), "lang": lang, "languages": LANGUAGES,
            "title_key": self.title_key, "nav": self.nav if session.signed_in else [], "roles": ROLES,
            "path": request.url.path, **context}, status_code=status)
        return self.finish(response, session)

    def finish(self, response: Response, session: Session) -> Response:
        policy = self.sessions.policy
        response.set_cookie(policy.cookie, session.sid, httponly=True, samesite="strict", secure=policy.secure,
                            path="/")
        response.headers.update(SECURITY_HEADERS)
        return response

    def redirect(self, request: Request, to: str) -> Response:
        return self.finish(RedirectResponse(to, status_code=303), request.state.session)


def install_handlers(app, console: Console) -> None:
    """Refusals and HTTP errors as pages (a refusal keeps its sentence and citation; status 403)."""

    async def forbidden(request: Request, exc: Forbidden):
        return console.page(request, "refused.html", status=403, refusal=exc.refusal)

    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 303:
            response = RedirectResponse(exc.headers["Location"], status_code=303)
            return console.finish(response, console.session(request))
        return console.page(request, "error.html", status=exc.status_code, detail=exc.detail)

    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(HTTPException, http_error)


async def set_language(console: Console, request: Request) -> Response:
    session, form = await console.form(request)
    session.lang = language_of(form.get("lang"))
    back = form.get("back", "/")
    return console.redirect(request, back if back.startswith("/") and not back.startswith("//") else "/")


async def sign_out(console: Console, request: Request) -> Response:
    session, _ = await console.form(request)
    console.sessions.end(session)
    request.state.session = console.sessions.new(session.lang)
    return console.redirect(request, "/signin")
