"""nnblocks.data.files: temporary files a killed writer leaves are recognised and removed; file kinds told apart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnblocks import nn
from nnblocks.data import files
from nnblocks.train import read_checkpoint, save_checkpoint

SRC = str(Path(__file__).resolve().parents[1] / "src")

# A writer that stops for good between writing its temporary file and renaming it, so it can be killed right there.
HANGING_WRITER = """
import os, sys, time
from nnblocks import nn
from nnblocks.train import checkpoint
checkpoint.os.replace = lambda *a: (print("written", flush=True), time.sleep(600))
checkpoint.save_checkpoint(sys.argv[1], nn.Linear(300, 300, seed=0))
"""


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_checkpoint_write_killed_midway_leaves_a_temp_file_the_next_save_removes(tmp_path):
    target = tmp_path / "model.npz"
    left = []
    for _ in range(2):  # each kill leaves one temp file (~360 kB here); the next writer removes the previous one
        proc = subprocess.Popen([sys.executable, "-c", HANGING_WRITER, str(target)], stdout=subprocess.PIPE,
                                env={**os.environ, "PYTHONPATH": SRC})
        assert proc.stdout.readline().strip() == b"written"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left.append(temps(tmp_path))
    assert len(left[0]) == len(left[1]) == 1 and left[0] != left[1]
    assert left[0][0].startswith(f".model.npz.{files._host()}.") and (tmp_path / left[1][0]).stat().st_size > 300_000
    assert not target.exists()
    save_checkpoint(target, nn.Linear(2, 2, seed=0))
    assert temps(tmp_path) == [] and read_checkpoint(target).epoch == 0


def test_only_our_own_stale_temp_files_are_removed(tmp_path):
    target = tmp_path / "model.npz"
    host = files._host()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that existed and is gone
    keep = [f".model.npz.{host}.{os.getppid()}.abc123.tmp",  # a live writer
            f".model.npz.otherhost.{dead.pid}.abc123.tmp",  # another machine sharing the folder: cannot tell
            ".model.npz.ab12cd34.tmp",  # the older naming, but recent
            ".other.npz.ab12cd34.tmp", "notes.tmp"]  # not a temp file of this target
    remove = [f".model.npz.{host}.{dead.pid}.x_y9.tmp", ".model.npz.zz99yy88.tmp"]
    for name in keep + remove:
        (tmp_path / name).write_bytes(b"partial")
    old = time.time() - files.LEGACY_AGE - 60
    os.utime(tmp_path / ".model.npz.zz99yy88.tmp", (old, old))
    removed = files.remove_stale_temps(target)
    assert sorted(p.name for p in removed) == sorted(remove)
    assert temps(tmp_path) == sorted(keep)


def test_a_checkpoint_gets_the_mode_open_gives_other_files(tmp_path):
    old = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "model.npz", nn.Linear(2, 2, seed=0))
        (tmp_path / "history.csv").write_text("epoch\n")
        assert path.stat().st_mode & 0o777 == 0o644 == (tmp_path / "history.csv").stat().st_mode & 0o777
        os.chmod(path, 0o600)  # a mode the user chose is kept when the checkpoint is rewritten
        save_checkpoint(path, nn.Linear(2, 2, seed=0))
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize("content, words", [
    (b"", "an empty file"), (b"\x93NUMPY\x01\x00", "a single .npy array"), (b"\x1f\x8b\x08\x00", "a gzip file"),
    (b"x,y\n1,2\n", "starts with text b'x,y\\n1,2\\n'"), (bytes(range(200, 208)), "starts with binary data"),
])
def test_npz_problem_names_what_the_file_is_instead(tmp_path, content, words):
    path = tmp_path / "f.npz"
    path.write_bytes(content)
    assert words in files.npz_problem(path)
    np.savez(path, a=np.ones(2))
    assert files.npz_problem(path) is None
