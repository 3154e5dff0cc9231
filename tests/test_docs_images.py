"""docs/make_images.py (the README's pictures) still runs against the current package and writes real images."""
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "make_images.py"


def test_make_images_writes_every_picture(tmp_path):
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    for name in ["chapter1_loss.png", "learning_rate_study.png", "graph_231.png", "decision_boundary_moons.png",
                 "gradient_check.png"]:
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    trace = (tmp_path / "trace.txt").read_text()
    assert "dL/dW2[0] = dL/dy_hat (-1.1568) x h[0] (0.5890) = -0.6814" in trace
