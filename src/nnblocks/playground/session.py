"""One browser tab's session: its run, its commands (settings, play, pause, step, reset...), and its frames.

Threads, and why they never wait long for each other:

- requests (one thread each, from the HTTP server) change the session under ``lock``;
- while playing, one *trainer* thread runs ``Run.train_step`` under ``lock``, one step at a time, and publishes a
  frame on a fixed schedule of ``frame_rate`` frames per second. So frames come at a steady rate however
  fast training goes (a step on 3 layers of 8 takes about a millisecond; a frame about two), and the first frame
  after "play" comes right after the first step;
- the page's stream (Server-Sent Events) waits on ``_frames``, a condition of its own: it only copies the latest
  published bytes, so a slow connection never holds up training.

A request that wants ``lock`` while the trainer is running raises ``_waiting``; the trainer then sleeps a moment
after its step, since a lock released and re-taken at once by the same thread would keep the request out.
A paused session publishes a frame after each command instead.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from nnblocks.errors import NNBlocksError
from nnblocks.playground import frames
from nnblocks.playground.dataset import Points, Upload, load_points, read_upload
from nnblocks.playground.run import Run
from nnblocks.playground.settings import DATA_KEYS, MODEL_KEYS, Limits, Settings, SettingsError

FRAME_RATE = 20.0  # frames per second while training: smooth to the eye, a few percent of one core to compute
MAX_STEPS = 1000  # at most this many steps per "step" request


class Session:
    """A run and what is needed to drive it from a page: play state, frames, the uploaded table."""

    def __init__(self, sid: str, limits: Limits, frame_rate: float = FRAME_RATE,
                 settings: Settings | None = None) -> None:
        self.id, self.limits, self.period = sid, limits, 1.0 / frame_rate
        self.lock = threading.Lock()
        self._frames = threading.Condition()
        self._waiting = 0
        self._waiting_lock = threading.Lock()
        self.settings = settings or Settings()
        self.upload: Upload | None = None
        self.points: Points = load_points(self.settings, None)
        self.run = Run(self.settings, self.points)
        self.run_id = self.data_version = 0
        self.playing = self.closed = False
        self.frame_bytes, self.frame_seq, self.points_bytes = b"", 0, b""
        self.listeners = 0
        self.last_seen = time.monotonic()
        self._trainer: threading.Thread | None = None
        self._next_publish = 0.0
        self._publish_points()
        self._publish()

    # ---- locking ----------------------------------------------------------------------------------------------------
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the session for one command, asking a running trainer to make room."""
        with self._waiting_lock:
            self._waiting += 1
        try:
            with self.lock:
                self.last_seen = time.monotonic()
                yield
        finally:
            with self._waiting_lock:
                self._waiting -= 1

    # ---- commands (each holds the session and publishes the new state) --------------------------------------------
    def update(self, changes: Any) -> Settings:
        """Apply new settings: new points and model for data settings, a new model for model settings, the running
        model otherwise. Nothing changes when a value is refused (``SettingsError``) or the data cannot be built."""
        with self.exclusive():
            new = self.settings.updated(changes, self.limits)
            changed = new.changed(self.settings)
            if changed & set(DATA_KEYS):
                points = checked_build(lambda: load_points(new, self.upload))
                self._replace_run(new, points)
            elif changed & set(MODEL_KEYS):
                self._replace_run(new, self.points)
            elif changed:
                self.run.apply_training(new)
                self.settings = new
            self._publish()
            return self.settings

    def upload_csv(self, body: bytes, filename: str) -> dict[str, Any]:
        """Read a CSV upload and switch to it (a linear output for real-valued labels); ``DataError`` when bad."""
        with self.exclusive():
            upload = read_upload(body, filename, self.limits)
            new = self.settings.updated({"dataset": "upload"}, self.limits)
            points = checked_build(lambda: load_points(new, upload))
            if points.task == "regression":
                new = new.updated({"output": "linear"}, self.limits)
            elif new.output == "sigmoid" and points.num_classes != 2:
                new = new.updated({"output": "softmax"}, self.limits)
            self._replace_run(new, points)
            self.upload = upload
            self._publish()
            return {"name": upload.name, "rows": int(len(upload.labels)), "task": points.task,
                    "classes": points.num_classes, "settings": self.settings.to_dict()}

    def play(self) -> None:
        with self.exclusive():
            if self.playing or self.run.error:
                return
            self.playing = True
            self._next_publish = 0.0  # the first step publishes at once
            self._trainer = threading.Thread(target=self._train_loop, name=f"playground-train-{self.id[:6]}",
                                             daemon=True)
            self._trainer.start()

    def pause(self) -> None:
        with self.exclusive():
            self.playing = False
            self._publish()

    def step(self, steps: int = 1) -> None:
        """``steps`` mini-batch steps now (the page's single step is one), stopping early if training diverges."""
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise SettingsError(f"steps: expected a whole number in [1, {MAX_STEPS}], got {steps!r}")
        with self.exclusive():
            for _ in range(steps):
                if self.run.error or not self.run.train_step():
                    break
            self._publish()

    def reset(self) -> None:
        """Back to the run's start: the same initial weights (the same seed), a fresh optimizer and shuffling."""
        with self.exclusive():
            self._replace_run(self.settings, self.points)
            self._publish()

    def new_weights(self) -> Settings:
        """A new seed (the next one): other initial weights, dropout masks and shuffling, the same points."""
        return self.update({"seed": (self.settings.seed + 1) % 2**31})

    def close(self) -> None:
        with self.exclusive():
            self.playing = False
            self.closed = True
        with self._frames:
            self._frames.notify_all()

    def _replace_run(self, settings: Settings, points: Points) -> None:
        run = checked_build(lambda: Run(settings, points))
        if points is not self.points:
            self.points, self.data_version = points, self.data_version + 1
        self.settings, self.run, self.run_id, self.playing = settings, run, self.run_id + 1, False
        self._publish_points()

    # ---- training ----------------------------------------------------------------------------------------------------
    def _train_loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self.lock:
                if not self.playing or self.closed or self._trainer is not me:
                    return
                if not self.run.train_step():
                    self.playing = False
                now = time.monotonic()
                if not self.playing or now >= self._next_publish:
                    # on a fixed schedule (not "a period after the last one", which a step's lateness would slow
                    # down), unless a whole period behind: then from now
                    late = now - self._next_publish
                    self._next_publish = (self._next_publish if late < self.period else now) + self.period
                    self._publish()
            if self._waiting:
                time.sleep(0.0005)

    # ---- frames ------------------------------------------------------------------------------------------------------
    def _publish(self) -> None:
        """Compute the frame of the current state (the caller holds ``lock``) and hand it to the streams."""
        payload = frames.to_json(frames.frame(self.run, run_id=self.run_id, data_version=self.data_version,
                                              playing=self.playing))
        with self._frames:
            self.frame_bytes, self.frame_seq = payload, self.frame_seq + 1
            self._frames.notify_all()

    def _publish_points(self) -> None:
        payload = frames.to_json(frames.points(self.run, self.data_version))
        with self._frames:
            self.points_bytes = payload

    def next_frame(self, after: int, timeout: float) -> tuple[int, bytes, bytes] | None:
        """The latest frame once it is newer than ``after``: ``(seq, frame, points)``; None after ``timeout``
        seconds without one, or once the session is closed."""
        with self._frames:
            self._frames.wait_for(lambda: self.frame_seq > after or self.closed, timeout)
            if self.closed or self.frame_seq <= after:
                return None
            return self.frame_seq, self.frame_bytes, self.points_bytes

    def listening(self, delta: int) -> None:
        """A stream connected (+1) or went away (-1): a session with a listener is never idle."""
        with self._frames:
            self.listeners += delta
            self.last_seen = time.monotonic()


def checked_build(build: Any) -> Any:
    """``build()``, with the library's own errors (a split a CSV cannot fill...) turned into ``SettingsError``."""
    try:
        return build()
    except SettingsError:
        raise
    except NNBlocksError as exc:
        raise SettingsError(str(exc)) from exc
