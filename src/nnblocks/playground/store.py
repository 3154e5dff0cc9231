"""The sessions of a server: one per browser tab, capped in number, closed when their tab has gone quiet.

A tab creates its session when the page loads and keeps its id in memory (not in a cookie), so two tabs never share
one. A session is *idle* when no stream is connected and no request came for ``idle_timeout`` seconds; the server's
reaper closes idle sessions (a closed tab that could not say goodbye), and a new session first makes room that way.
Memory per session is bounded (points, one model, a loss curve of at most ``run.CURVE_POINTS`` epochs, one frame), so
the server's memory is bounded by ``Limits.max_sessions``.
"""
from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from nnblocks.errors import NNBlocksError
from nnblocks.playground.session import FRAME_RATE, Session, checked_build
from nnblocks.playground.settings import Limits, Settings

IDLE_TIMEOUT = 120.0  # seconds: longer than a browser's reconnection attempts after a network hiccup


class TooManySessions(NNBlocksError, RuntimeError):
    """Every session slot is taken by a tab that is still there (the server answers 503)."""


class UnknownSession(NNBlocksError, KeyError):
    """No session has this id (closed, expired, or from an earlier server: the server answers 404)."""


class SessionStore:
    def __init__(self, limits: Limits, frame_rate: float = FRAME_RATE, idle_timeout: float = IDLE_TIMEOUT) -> None:
        self.limits, self.frame_rate, self.idle_timeout = limits, frame_rate, idle_timeout
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, changes: Any = None) -> Session:
        """A new session with the default settings updated by ``changes`` (``SettingsError`` when refused)."""
        settings = Settings().updated(changes or {}, self.limits)
        self.reap()
        with self._lock:
            if len(self._sessions) >= self.limits.max_sessions:
                raise TooManySessions(f"all {self.limits.max_sessions} sessions are in use by open tabs; close a "
                                      "playground tab (or start the server with a higher --max-sessions)")
            sid = secrets.token_urlsafe(12)
            self._sessions[sid] = session = checked_build(lambda: Session(sid, self.limits, self.frame_rate, settings))
        return session

    def get(self, sid: str) -> Session:
        with self._lock:
            session = self._sessions.get(sid)
        if session is None or session.closed:
            raise UnknownSession(f"no session {sid!r} (closed or expired): reload the page for a new one")
        session.last_seen = time.monotonic()
        return session

    def close(self, sid: str) -> bool:
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is not None:
            session.close()
        return session is not None

    def reap(self, now: float | None = None) -> list[str]:
        """Close every idle session; return their ids."""
        now = time.monotonic() if now is None else now
        with self._lock:
            idle = [sid for sid, s in self._sessions.items()
                    if s.closed or (s.listeners <= 0 and now - s.last_seen > self.idle_timeout)]
        for sid in idle:
            self.close(sid)
        return idle

    def close_all(self) -> None:
        with self._lock:
            sids = list(self._sessions)
        for sid in sids:
            self.close(sid)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
