"""End to end in a real headless browser (Chromium driven by Selenium): open the page, choose spirals, add a layer,
press play, wait until the test loss falls below a threshold, look at the maths of a weight and the gradient check,
reset, and the first frame of the reset run carries exactly the original weights. Saves a screenshot (its path is
printed) and prints what the page measured: frames per second while training spirals on 3 hidden layers of 8, the
server's CPU share, the time from "play" to the first frame.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and the ``selenium`` package (the
test extra); it skips, saying which is missing, only where they cannot be had.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TEST_LOSS = 0.25  # cross-entropy on the held-out spirals; an untrained network sits at about log 2 = 0.69
ARTIFACTS = Path(os.environ.get("NNBLOCKS_ARTIFACTS", Path(tempfile.gettempdir()) / "nnblocks-artifacts"))


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install '.[test]')"
    if not CHROMIUM or not CHROMEDRIVER:
        return "no chromium / chromedriver on PATH (apt-get install chromium chromium-driver; .ci/run does it)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=f"browser test skipped: {_missing()}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def server():
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "nnblocks", "playground", "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    assert "serving on" in line, line
    yield process, line.split()[4]
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1440,1200", f"--user-data-dir={tempfile.mkdtemp(prefix='nnblocks-chromium-')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def wait_for(driver, script, timeout=60.0, what=""):
    """Poll a JavaScript expression until it is truthy; return its value. Until the page's script has run,
    ``window.playground`` is undefined and the expression throws: that counts as not yet (the last error is
    reported if it never comes true)."""
    deadline, error = time.monotonic() + timeout, None
    guarded = f"try {{ return [({script}), null]; }} catch (e) {{ return [null, String(e)]; }}"
    while time.monotonic() < deadline:
        value, error = driver.execute_script(guarded)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or script}"
                         + (f" (last error: {error})" if error else ""))


def frame(driver, path=""):
    return driver.execute_script(f"return window.playground.frame{path}")


def test_spirals_train_reset_and_the_same_weights(server, browser):
    from selenium.webdriver.common.by import By

    process, url = server
    browser.get(url)
    wait_for(browser, "window.playground.frame", what="the first frame")
    assert frame(browser, ".settings.dataset") == "circles"
    browser.find_element(By.CSS_SELECTOR, '.datasets button[data-name="spirals"]').click()
    wait_for(browser, "window.playground.frame.settings.dataset === 'spirals'", what="the spirals")
    browser.find_element(By.ID, "add-layer").click()
    sizes = "JSON.stringify(window.playground.frame.network.sizes) === '[2,8,8,8,2]'"
    wait_for(browser, sizes, what="the third hidden layer")
    run = frame(browser, ".run")
    original = browser.execute_script(f"return window.playground.firstOfRun[{run}].weights")
    assert [len(layer["w"]) for layer in original] == [8, 8, 8, 2]

    browser.find_element(By.ID, "play").click()
    started = time.monotonic()
    wait_for(browser, "window.playground.frame.playing && window.playground.frame.step > 0", what="training")
    # measure over 5 s of training: frames the page received, the server's CPU time
    time.sleep(1.0)
    stats = "return [window.playground.stats.frames, performance.now(), window.playground.frame.step]"
    frames0, clock0, step0 = browser.execute_script(stats)
    cpu0, wall0 = cpu_seconds(process.pid), time.monotonic()
    time.sleep(5.0)
    frames1, clock1, step1 = browser.execute_script(stats)
    cpu1, wall1 = cpu_seconds(process.pid), time.monotonic()
    fps = (frames1 - frames0) / ((clock1 - clock0) / 1000)
    steps_per_second = (step1 - step0) / ((clock1 - clock0) / 1000)
    cpu_share = (cpu1 - cpu0) / (wall1 - wall0)
    load = os.getloadavg()[0]
    first_frame_ms = browser.execute_script("return window.playground.stats.playToFirstFrameMs")
    wait_for(browser, f"window.playground.frame.loss.test < {TEST_LOSS}", timeout=300, what="a low test loss")
    trained = frame(browser, "")
    seconds = time.monotonic() - started
    browser.find_element(By.ID, "play").click()  # pause
    wait_for(browser, "!window.playground.frame.playing", what="the pause")

    # the maths of one weight, and the finite-difference check, as a learner would click them
    browser.execute_script("document.querySelectorAll('#network line.hit')[20].dispatchEvent(new MouseEvent('click'))")
    wait_for(browser, "document.getElementById('maths').textContent.includes('finite difference')", what="the maths")
    maths = browser.find_element(By.ID, "maths").text
    assert "weight W2[" in maths and "dL/dW2[" in maths and "chain rule (backprop)" in maths
    browser.find_element(By.ID, "gradient-check").click()
    wait_for(browser, "document.getElementById('check-result').textContent.includes('all agree')",
             what="the gradient check")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "playground-spirals.png"
    assert browser.save_screenshot(str(screenshot))

    browser.find_element(By.ID, "reset").click()
    wait_for(browser, f"window.playground.frame.run > {run} && window.playground.frame.step === 0", what="the reset")
    new_run = frame(browser, ".run")
    first = browser.execute_script(f"return window.playground.firstOfRun[{new_run}].weights")
    assert first == original  # exactly: the float32 values, as JSON numbers
    assert frame(browser, ".weights") == original and trained["weights"] != original

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    print(f"\nplayground in Chromium: spirals, 3 hidden layers of 8 (tanh), SGD lr 0.03, batch 10: test loss "
          f"{trained['loss']['test']:.3f} < {TEST_LOSS} after {trained['epoch']} epochs ({seconds:.1f} s)\n"
          f"  frames received while training: {fps:.1f} per second\n"
          f"  server CPU while training: {cpu_share:.0%} of one core, training {steps_per_second:.0f} steps/s "
          f"(machine load average {load:.1f} on {os.cpu_count()} cores)\n"
          f"  from 'play' to the first frame: {first_frame_ms:.0f} ms\n"
          f"  screenshot: {screenshot}")


def test_uploads_and_the_regression_plane_on_the_page(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server[1])
    wait_for(browser, "window.playground.frame", what="the first frame")
    message = "document.getElementById('upload-message').textContent"
    bad = tmp_path / "wide.csv"
    bad.write_text("a,b,c,label\n" + "1,2,3,0\n" * 30)
    browser.find_element(By.ID, "upload").send_keys(str(bad))
    text = wait_for(browser, message, what="the upload's message")
    assert text == "wide.csv: need exactly two feature columns and a label column (the last); found 3 feature column(s)"
    assert frame(browser, ".settings.dataset") == "circles"
    good = tmp_path / "signs.csv"
    good.write_text("u,v,label\n" + "".join(f"{x},{y},{'same' if x * y > 0 else 'other'}\n"
                                            for x in range(-3, 4) for y in range(-3, 4) if x and y))
    browser.find_element(By.ID, "upload").send_keys(str(good))
    wait_for(browser, f"{message}.startsWith('signs.csv: 36 rows, 2 classes')", what="the upload's summary")
    wait_for(browser, "window.playground.frame.settings.dataset === 'upload'", what="the uploaded data")
    browser.find_element(By.CSS_SELECTOR, '.datasets button[data-name="plane"]').click()
    wait_for(browser, "window.playground.frame.boundary.kind === 'value'", what="the regression plane")
    assert frame(browser, ".settings.output") == "linear" and frame(browser, ".network.loss") == "mse"
    severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert len(severe) == 1 and "upload?name=wide.csv" in severe[0] and "400 (Bad Request)" in severe[0]
