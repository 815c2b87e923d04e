"""Server-side console sessions: the browser holds only a random session id (HttpOnly, SameSite=Strict cookie);
who is signed in, their role, the CSRF token and the work in progress stay on the server and expire."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session lives.

    idle_s:     signed out after this long without a request (default 15 min: a counter left unattended)
    absolute_s: signed out this long after sign-in whatever happens (default 8 h: one shift)
    cookie:     the cookie's name
    secure:     send the cookie only over HTTPS (on when the console is served behind TLS)
    """

    idle_s: float = 900.0
    absolute_s: float = 8 * 3600.0
    cookie: str = "papilla_console"
    secure: bool = False


@dataclass
class Session:
    sid: str
    csrf: str
    started: float
    seen: float
    lang: str = "en"
    principal_id: str | None = None
    role: str | None = None
    work: dict = field(default_factory=dict)      # the page flow's state (never in a URL or a log)

    @property
    def signed_in(self) -> bool:
        return self.principal_id is not None


class SessionStore:
    """Sessions by id, dropped when expired; `on_end(session)` lets a console stop what a session left running."""

    def __init__(self, policy: SessionPolicy = SessionPolicy(), on_end: Callable[[Session], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.policy, self._on_end, self._clock = policy, on_end or (lambda s: None), clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self, lang: str = "en") -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, lang)
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        """The live session with this id (its idle clock restarted), or None when unknown or expired."""
        if not sid:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.seen > self.policy.idle_s or now - session.started > self.policy.absolute_s:
                del self._sessions[sid]
                expired = session
            else:
                session.seen = now
                return session
        self._on_end(expired)
        return None

    def sign_in(self, session: Session, principal_id: str, role: str) -> Session:
        """A fresh session id and CSRF token for the signed-in principal (no session fixation)."""
        self.end(session, notify=False)
        fresh = self.new(session.lang)
        fresh.principal_id, fresh.role = principal_id, role
        return fresh

    def end(self, session: Session, notify: bool = True) -> None:
        with self._lock:
            self._sessions.pop(session.sid, None)
        if notify:
            self._on_end(session)
