"""Soak: a scripted session against a real server process, measuring its memory (resident set size) and threads.

One long-lived tab trains the whole time with its stream open; meanwhile short-lived tabs come and go, each doing
what a learner does (settings, play, step, reset, new weights, upload, explain, gradient check, downloads); two in
three close properly, one in three just vanishes (stream dropped, no goodbye) and is left to the idle reaper.

    pytest tests/test_playground_soak.py -s                                  # the short version (20 s) in the suite
    NNBLOCKS_SOAK_SECONDS=300 pytest tests/test_playground_soak.py -s        # the full 5-minute run, by hand
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
SECONDS = float(os.environ.get("NNBLOCKS_SOAK_SECONDS", "20"))
GROWTH_MIB = 40  # allowed growth of the resident set after the warm-up (a leak of one run per tab exceeds it)

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="soak test reads Linux's /proc")


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


class Client:
    def __init__(self, address: tuple[str, int]) -> None:
        self.address, self.errors = address, []

    def call(self, method: str, path: str, body=None, expect=(200, 201)):
        conn = http.client.HTTPConnection(*self.address, timeout=120)
        payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        conn.request(method, path, body=payload)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        if response.status not in expect:
            self.errors.append(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data) if response.getheader("Content-Type") == "application/json" else data


class Stream(threading.Thread):
    """Reads a session's Server-Sent Events, counting frames, until closed (the tab goes away)."""

    def __init__(self, address: tuple[str, int], sid: str) -> None:
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection(*address, timeout=120)
        self.conn.request("GET", f"/api/sessions/{sid}/stream")
        self.sock = self.conn.sock  # the response takes it over (Connection: close); kept to hang up
        self.response = self.conn.getresponse()
        self.frames = 0
        self.start()

    def run(self) -> None:
        try:
            for line in self.response.fp:
                self.frames += line.startswith(b"event: frame")
        except (OSError, ValueError, AttributeError):
            pass

    def close(self) -> None:
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


def csv_upload(rng: np.random.Generator) -> bytes:
    X = rng.normal(size=(200, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a * b > 0)}" for a, b in X)
    return ("a,b,label\n" + rows + "\n").encode()


def short_tab(client: Client, rng: np.random.Generator, k: int) -> None:
    """One learner's tab, start to end."""
    dataset = ["circles", "xor", "blobs", "spirals", "moons"][k % 5]
    tab = client.call("POST", "/api/sessions", {"dataset": dataset, "hidden": [int(rng.integers(2, 9))] * 2})
    sid = tab["id"]
    base = f"/api/sessions/{sid}"
    stream = Stream(client.address, sid)
    client.call("POST", base + "/play")
    time.sleep(0.3)
    client.call("POST", base + "/settings", {"lr": 0.1, "l2": 0.001, "dropout": 0.1})
    client.call("POST", base + "/settings", {"hidden": [6, 6, 6], "activation": ["relu", "tanh", "leaky_relu"]})
    client.call("POST", base + "/play")
    time.sleep(0.3)
    client.call("POST", base + "/pause")
    client.call("POST", base + "/step", {"steps": 5})
    client.call("POST", base + "/explain", {"weight": {"layer": 1, "index": [0, 1]}})
    client.call("POST", base + "/explain", {"neuron": {"layer": 0, "unit": 2}})
    client.call("POST", base + "/gradient-check")
    if k % 3 == 0:
        client.call("POST", base + "/upload?name=quadrants.csv", csv_upload(rng))
    client.call("POST", base + "/settings", {"hidden": [9] * 9}, expect=(400,))  # refused, as a typo would be
    client.call("GET", base + "/checkpoint")
    client.call("GET", base + "/code")
    client.call("POST", base + "/reset")
    client.call("POST", base + "/new-weights")
    if k % 3 == 2:
        client.call("POST", base + "/play")  # vanishes while training: the worst case for the reaper
    stream.close()
    if k % 3 != 2:
        client.call("DELETE", base)  # the page's goodbye; else the tab vanished and the reaper closes it


def test_memory_stays_bounded_over_a_long_session():
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "nnblocks", "playground", "--port", "0", "--no-browser",
                                "--idle-timeout", "3", "--max-sessions", "8"], stdout=subprocess.PIPE, text=True,
                               env=env)
    try:
        url = process.stdout.readline().split()[4]
        host, port = url[len("http://"):].strip("/").split(":")
        client = Client((host, int(port)))
        long_tab = client.call("POST", "/api/sessions", {"dataset": "spirals", "hidden": [8, 8, 8]})["id"]
        long_stream = Stream(client.address, long_tab)
        client.call("POST", f"/api/sessions/{long_tab}/play")
        rng = np.random.default_rng(0)
        samples, started, tabs, next_sample = [], time.monotonic(), 0, 0.0
        while (elapsed := time.monotonic() - started) < SECONDS:
            if elapsed >= next_sample:
                samples.append((elapsed, status_field(process.pid, "VmRSS") / 1024,
                                status_field(process.pid, "Threads")))
                next_sample += max(SECONDS / 30, 1.0)
            short_tab(client, rng, tabs)
            tabs += 1
        samples.append((time.monotonic() - started, status_field(process.pid, "VmRSS") / 1024,
                        status_field(process.pid, "Threads")))
        final = client.call("GET", f"/api/sessions/{long_tab}/state")
        long_stream.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
    print(f"\nsoak: {SECONDS:.0f} s, {tabs} short tabs (a third abandoned), one tab training throughout: epoch "
          f"{final['epoch']:,}, {final['step']:,} steps, {long_stream.frames:,} frames received, "
          f"{len(final['curve']['epoch'])} curve points")
    print("  time (s)   RSS (MiB)   threads")
    for t, rss, threads in samples:
        print(f"  {t:8.1f}   {rss:9.1f}   {threads:7d}")
    warm = [rss for t, rss, _ in samples if SECONDS / 4 <= t <= SECONDS / 2]
    late = [rss for t, rss, _ in samples if t >= 3 * SECONDS / 4]
    print(f"  RSS after warm-up (max, t in [{SECONDS / 4:.0f}, {SECONDS / 2:.0f}] s): {max(warm):.1f} MiB; "
          f"last quarter: max {max(late):.1f} MiB; peak {max(r for _, r, _ in samples):.1f} MiB")
    assert client.errors == []
    assert max(late) - max(warm) < GROWTH_MIB
    assert max(threads for _, _, threads in samples) < 40  # streams and trainers end with their tabs
    assert len(final["curve"]["epoch"]) <= 400 and final["step"] > 0
