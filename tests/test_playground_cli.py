"""`nnblocks playground`: its flags, its address line, a port already taken."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from nnblocks.cli import main

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_help_lists_the_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["playground", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--port", "--host", "--no-browser", "--max-layers", "--max-neurons", "--fps", "--idle-timeout"):
        assert flag in out


def test_bad_flags_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["playground", "--port", "-1"])
    assert exc.value.code == 2 and "argument --port: expected an integer >= 0, got '-1'" in capsys.readouterr().err


def start(*flags):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "nnblocks", "playground", "--no-browser", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_serves_on_the_address_it_prints_and_stops_on_ctrl_c():
    process = start("--port", "0", "--max-layers", "9")
    try:
        line = process.stdout.readline()
        assert line.startswith("nnblocks playground: serving on http://127.0.0.1:")
        url = line.split()[4]
        with urllib.request.urlopen(url + "api/options", timeout=30) as response:
            assert json.load(response)["limits"]["max_layers"] == 9
        port = url.rsplit(":", 1)[1].strip("/")
        taken = start("--port", port)  # the same port again
        assert taken.wait(timeout=60) == 1
        assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr.read()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
