"""Every endpoint of the playground's server, over real HTTP: the answers, the stream, and every kind of bad request
(which must get a 4xx with a message and leave the server and the session as they were)."""
from __future__ import annotations

import http.client
import json
import re
import threading

import numpy as np
import pytest

from nnblocks import nn
from nnblocks.playground.server import PlaygroundServer
from nnblocks.playground.settings import Limits, Settings
from nnblocks.train import load_checkpoint, read_checkpoint

UPLOAD_LIMIT = 20_000


@pytest.fixture(scope="module")
def server():
    srv = PlaygroundServer(("127.0.0.1", 0), Limits(max_sessions=4, max_upload_bytes=UPLOAD_LIMIT), frame_rate=50)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.stop()
    thread.join(timeout=10)


def call(server, method, path, body=None, headers=None):
    """(status, headers, value): JSON answers parsed, others as bytes."""
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    conn.request(method, path, body=payload, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    kind = response.getheader("Content-Type", "")
    return response.status, dict(response.getheaders()), json.loads(data) if kind == "application/json" and data else data


@pytest.fixture
def session(server):
    status, _, answer = call(server, "POST", "/api/sessions", {"dataset": "spirals"})
    assert status == 201
    yield answer["id"]
    call(server, "DELETE", f"/api/sessions/{answer['id']}")


def state(server, sid):
    status, _, frame = call(server, "GET", f"/api/sessions/{sid}/state")
    assert status == 200
    return frame


def csv_bytes(rows, header="x1,x2,label"):
    return ("\n".join([header] + rows) + "\n").encode()


# ---- the page --------------------------------------------------------------------------------------------------------
def test_the_page_and_every_asset_it_loads(server):
    status, headers, page = call(server, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b'<script type="module" src="/static/app.js">' in page
    wanted, seen = ["style.css", "app.js"], set()
    while wanted:
        name = wanted.pop()
        seen.add(name)
        status, headers, body = call(server, "GET", f"/static/{name}")
        assert status == 200, name
        assert headers["Content-Type"].split(";")[0] == ("text/css" if name.endswith(".css") else "text/javascript")
        wanted += [m.decode() for m in re.findall(rb'from "\./([\w.]+)"', body) if m.decode() not in seen]
    assert seen == {"style.css", "app.js", "api.js", "draw.js", "network.js", "panels.js"}
    assert b"http" not in page.replace(b"http-equiv", b"")  # nothing from a CDN: the page works offline


def test_options_are_the_settings_defaults_and_caps(server):
    status, _, options = call(server, "GET", "/api/options")
    assert status == 200
    assert options["defaults"] == Settings().to_dict()
    assert options["limits"]["max_upload_bytes"] == UPLOAD_LIMIT and options["limits"]["max_layers"] == 6
    assert options["datasets"] == ["circles", "xor", "blobs", "spirals", "moons", "plane", "upload"]
    assert options["outputs"] == {"softmax": "cross-entropy", "sigmoid": "bce", "linear": "mse"}


# ---- a session's life ------------------------------------------------------------------------------------------------
def test_a_new_session_starts_from_its_settings(server):
    status, _, answer = call(server, "POST", "/api/sessions", {"dataset": "moons", "hidden": [4]})
    assert status == 201 and answer["settings"]["hidden"] == [4] and answer["settings"]["activation"] == ["tanh"]
    frame = state(server, answer["id"])
    assert frame["network"]["sizes"] == [2, 4, 2] and frame["step"] == 0 and frame["epoch"] == 0
    assert np.array(frame["weights"][0]["w"]).shape == (4, 2) and np.array(frame["weights"][1]["w"]).shape == (2, 4)
    assert frame["boundary"]["kind"] == "classes" and len(frame["neurons"]["layers"]) == 1
    assert 0.5 < frame["loss"]["test"] < 1.0  # about log 2 for untrained logits on 2 classes
    call(server, "DELETE", f"/api/sessions/{answer['id']}")


def test_settings_rebuild_what_they_change(server, session):
    first = state(server, session)
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/settings", {"lr": 0.1})
    assert status == 200 and answer["settings"]["lr"] == 0.1
    frame = state(server, session)
    assert frame["run"] == first["run"] and frame["lr"] == 0.1 and frame["weights"] == first["weights"]
    call(server, "POST", f"/api/sessions/{session}/settings", {"hidden": [8, 8, 8]})
    frame = state(server, session)
    assert frame["run"] == first["run"] + 1 and frame["network"]["sizes"] == [2, 8, 8, 8, 2]
    assert frame["network"]["activation"] == ["tanh"] * 3
    call(server, "POST", f"/api/sessions/{session}/settings", {"hidden": [8, 8], "seed": 3})
    assert state(server, session)["weights"] != first["weights"]
    call(server, "POST", f"/api/sessions/{session}/settings", {"seed": 0})
    assert state(server, session)["weights"] == first["weights"]  # the seed decides the initial weights


def test_step_reset_and_new_weights(server, session):
    initial = state(server, session)
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/step", {"steps": 25})
    assert status == 200 and answer["step"] == 25 and answer["epoch"] == 1
    trained = state(server, session)
    assert trained["weights"] != initial["weights"] and trained["curve"]["epoch"] == [0, 1]
    assert [g["name"] for g in trained["grad_norms"]] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
                                                          "4.bias"]
    status, _, _ = call(server, "POST", f"/api/sessions/{session}/reset")
    after = state(server, session)
    assert status == 200 and after["step"] == 0 and after["weights"] == initial["weights"]
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/new-weights")
    assert answer["settings"]["seed"] == 1 and state(server, session)["weights"] != initial["weights"]


def read_events(response, wanted):
    """Server-Sent Events from a streaming response until ``wanted(events)`` is true: [(event, data), ...]."""
    events, event, data = [], None, []
    while not wanted(events):
        line = response.fp.readline().decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event:
            events.append((event, json.loads("".join(data))))
            event, data = None, []
    return events


def test_the_stream_sends_points_then_frames_while_playing(server, session):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
    conn.request("GET", f"/api/sessions/{session}/stream")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    events = read_events(response, lambda e: len(e) >= 2)
    assert [e for e, _ in events] == ["points", "frame"]
    points, frame = events[0][1], events[1][1]
    assert points["data_version"] == frame["data_version"] and len(points["train"]["x"]) == 200
    assert call(server, "POST", f"/api/sessions/{session}/play")[0] == 200
    events = read_events(response, lambda e: sum(d["step"] > 0 for _, d in e) >= 3)
    steps = [d["step"] for e, d in events if e == "frame"]
    assert steps == sorted(steps) and events[-1][1]["playing"]
    assert call(server, "POST", f"/api/sessions/{session}/pause")[0] == 200
    events = read_events(response, lambda e: e and not e[-1][1]["playing"])
    conn.close()
    assert not events[-1][1]["playing"]


def test_uploads_switch_the_session_to_the_users_data(server, session):
    rng = np.random.default_rng(1)
    rows = [f"{x:.4f},{y:.4f},{['a', 'b', 'c'][int(x > 0) + int(y > 0)]}" for x, y in rng.normal(size=(60, 2))]
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/upload?name=three.csv", csv_bytes(rows),
                             {"Content-Type": "text/csv"})
    assert status == 200 and answer["name"] == "three.csv" and answer["rows"] == 60 and answer["classes"] == 3
    frame = state(server, session)
    assert frame["settings"]["dataset"] == "upload" and frame["network"]["sizes"][-1] == 3
    rows = [f"{x:.4f},{y:.4f},{x + 2 * y + 0.123:.4f}" for x, y in rng.normal(size=(40, 2))]
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/upload?name=plane.csv", csv_bytes(rows))
    assert status == 200 and answer["task"] == "regression" and answer["settings"]["output"] == "linear"
    assert state(server, session)["boundary"]["kind"] == "value"


def test_an_oversized_upload_is_refused_and_the_server_goes_on(server, session):
    body = csv_bytes(["1.0,2.0,0"] * 3000)
    assert len(body) > UPLOAD_LIMIT
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/upload?name=big.csv", body)
    assert status == 413 and f"at most {UPLOAD_LIMIT:,} are accepted" in answer["error"]
    assert state(server, session)["settings"]["dataset"] == "spirals"
    assert call(server, "GET", "/api/options")[0] == 200


@pytest.mark.parametrize("body, name, message", [
    (csv_bytes(["1,2,3,0"] * 30, "a,b,c,label"), "wide.csv", "wide.csv: need exactly two feature columns"),
    (csv_bytes(["1,x,0"] * 30), "text.csv", "text.csv: feature columns must be numbers"),
    (b"", "empty.csv", "empty.csv: the CSV file is empty"),
    (b"\xff\xfe\x00" * 100, "binary.csv", "binary.csv: not a UTF-8 text file"),
    (csv_bytes(["1,2,0"] * 30), "data.xlsx", "data.xlsx: the playground reads .csv files"),
    (csv_bytes([f"{i},{i},{i % 2}" for i in range(19)] + ["1,2,1"] * 0), "short.csv", "between 20 and"),
])
def test_bad_csv_files_get_a_clear_message(server, session, body, name, message):
    status, _, answer = call(server, "POST", f"/api/sessions/{session}/upload?name={name}", body)
    assert status == 400 and message in answer["error"]
    assert state(server, session)["settings"]["dataset"] == "spirals"


# ---- malformed requests ----------------------------------------------------------------------------------------------
BAD = [
    ("POST", "settings", b"{not json", {}, 400, "not valid JSON"),
    ("POST", "settings", [1, 2], {}, 400, "settings must be a JSON object"),
    ("POST", "settings", {"colour": "red"}, {}, 400, "unknown setting(s) ['colour']"),
    ("POST", "settings", {"lr": "fast"}, {}, 400, "lr: expected a number"),
    ("POST", "settings", {"hidden": [8, 0]}, {}, 400, "hidden[1]: expected a whole number in [1, 16], got 0"),
    ("POST", "settings", {"hidden": [4] * 7}, {}, 400, "at most 6 layer widths"),
    ("POST", "settings", {"activation": ["tanh", "gelu"]}, {}, 400, "activation[1]: unknown value 'gelu'"),
    ("POST", "settings", {"dataset": "plane"}, {}, 400, "choose the linear output with MSE"),
    ("POST", "settings", {"classes": 3, "output": "sigmoid"}, {}, 400, "tells 2 classes apart"),
    ("POST", "settings", {"dataset": "upload"}, {}, 400, "upload a CSV file first"),
    ("POST", "step", {"steps": 0}, {}, 400, "steps: expected a whole number in [1, 1000], got 0"),
    ("POST", "step", {"steps": "many"}, {}, 400, "steps: expected a whole number"),
    ("POST", "step", {"steps": 10**6}, {}, 400, "steps: expected a whole number"),
    ("POST", "explain", {"what": 1}, {}, 400, 'send {"weight"'),
    ("POST", "explain", {"weight": {"layer": 9, "index": [0, 0]}}, {}, 400, "layer: expected a whole number"),
    ("POST", "explain", {"weight": {"layer": 0, "index": [8, 0]}}, {}, 400, "within shape [8, 2]"),
    ("POST", "explain", {"neuron": {"layer": 0, "unit": -1}}, {}, 400, "unit: index"),
    ("POST", "settings", b"x" * (70 * 1024), {}, 413, "at most 65,536 are accepted"),
    ("POST", "settings", b"{}", {"Content-Length": "abc"}, 400, "bad Content-Length"),
    ("POST", "settings", {"lr": 0.1}, {"Origin": "http://evil.example"}, 403, "not accepted"),
    ("GET", "play", None, {}, 405, "GET is not allowed on"),
    ("PUT", "settings", {}, {}, 405, "PUT is not allowed"),
    ("GET", "nothing-here", None, {}, 404, "no such page or API endpoint"),
]


@pytest.mark.parametrize("method, what, body, headers, status, message", BAD,
                         ids=[f"{m} {w} {s}" for m, w, _, _, s, _ in BAD])
def test_malformed_requests_get_a_4xx_and_change_nothing(server, session, method, what, body, headers, status,
                                                        message):
    before = state(server, session)
    got, _, answer = call(server, method, f"/api/sessions/{session}/{what}", body, headers)
    assert got == status and message in answer["error"] and answer["status"] == status
    after = state(server, session)
    assert after["settings"] == before["settings"] and after["weights"] == before["weights"]


def test_other_methods_and_garbage_get_4xx(server, session):
    for method in ("HEAD", "PATCH", "OPTIONS"):
        status, headers, _ = call(server, method, f"/api/sessions/{session}/settings")
        assert status == 405 and headers["Content-Type"] == "application/json", method
    import socket

    with socket.create_connection(server.server_address[:2], timeout=30) as sock:
        sock.sendall(b"\x16\x03\x01 this is not HTTP\r\n\r\n")  # http.server answers it (HTTP/0.9 style)
        answer = b"".join(iter(lambda: sock.recv(4096), b""))
        assert b"Error code: 400" in answer
    assert call(server, "GET", "/api/options")[0] == 200


def test_unknown_sessions_and_paths_are_404(server):
    for method, path in [("GET", "/api/sessions/nosuchsession/state"), ("POST", "/api/sessions/nosuch/play"),
                         ("GET", "/api/sessions/nosuch/stream"), ("GET", "/static/../server.py"),
                         ("GET", "/static/missing.js"), ("GET", "/api/sessions/bad%20id/state")]:
        status, _, answer = call(server, method, path)
        assert status == 404, path
        assert answer["error"]


# ---- the maths and the exports ---------------------------------------------------------------------------------------
def test_explain_a_weight_and_a_neuron(server, session):
    call(server, "POST", f"/api/sessions/{session}/settings", {"l2": 0.01})
    call(server, "POST", f"/api/sessions/{session}/step", {"steps": 3})
    status, _, weight = call(server, "POST", f"/api/sessions/{session}/explain",
                             {"weight": {"layer": 2, "index": [1, 4]}})
    assert status == 200 and weight["title"].startswith("weight W3[1,4]")
    assert sum(line["value"] for line in weight["lines"]) == pytest.approx(weight["gradient"], rel=1e-12)
    assert weight["relative_error"] < 1e-6 and weight["fd_step"] == 1e-6
    status, _, neuron = call(server, "POST", f"/api/sessions/{session}/explain", {"neuron": {"layer": 1, "unit": 0}})
    assert status == 200 and neuron["title"] == "neuron 0 of hidden layer 2: its bias b2[0]"
    # with a penalty the loss is a sum, not the loss op: the output keeps its layer name z3 (as in nnblocks explain)
    assert [line["step"] for line in neuron["upstream"]] == ["z3 = linear(h2, W3, b3)", "h2 = tanh(z2)"]


def test_gradient_check_endpoint(server, session):
    call(server, "POST", f"/api/sessions/{session}/step", {"steps": 2})
    status, _, check = call(server, "POST", f"/api/sessions/{session}/gradient-check")
    assert status == 200 and check["tolerance"] == 1e-2 and check["batch"] == 10
    assert all(p["ok"] and p["max_rel_error"] < 1e-3 for p in check["parameters"])


def test_the_checkpoint_download_rebuilds_the_model(server, session, tmp_path):
    call(server, "POST", f"/api/sessions/{session}/step", {"steps": 7})
    frame = state(server, session)
    status, headers, body = call(server, "GET", f"/api/sessions/{session}/checkpoint")
    assert status == 200 and headers["Content-Disposition"] == 'attachment; filename="playground-spirals-8-8.npz"'
    path = tmp_path / "model.npz"
    path.write_bytes(body)
    ckpt = read_checkpoint(path)
    assert ckpt.config["kind"] == "nnblocks-playground" and ckpt.config["sizes"] == [2, 8, 8, 2]
    model = nn.MLP(ckpt.config["sizes"], activation=ckpt.config["settings"]["activation"])
    load_checkpoint(path, model, restore_rng=False)
    assert model[0].weight.data.tolist() == frame["weights"][0]["w"]
    assert ckpt.extra["scaler"]["kind"] == "standard" and ckpt.extra["curve"]["epoch"] == [0]


def test_the_code_download_is_python(server, session):
    status, headers, body = call(server, "GET", f"/api/sessions/{session}/code")
    assert status == 200 and headers["Content-Type"].startswith("text/x-python")
    code = body.decode()
    compile(code, "playground.py", "exec")
    assert "model = nn.MLP([2, 8, 8, 2], activation=['tanh', 'tanh']" in code


# ---- sessions: one per tab, capped, closed ---------------------------------------------------------------------------
def test_sessions_are_separate_capped_and_closed(server):
    ids = []
    while True:
        status, _, answer = call(server, "POST", "/api/sessions", {})
        if status != 201:
            break
        ids.append(answer["id"])
    assert status == 503 and "sessions are in use" in answer["error"] and len(ids) == server.limits.max_sessions
    call(server, "POST", f"/api/sessions/{ids[0]}/step", {"steps": 5})
    assert state(server, ids[0])["step"] == 5 and state(server, ids[1])["step"] == 0
    status, _, answer = call(server, "POST", f"/api/sessions/{ids[0]}/close", b"{}")  # the page's sendBeacon
    assert status == 200 and answer["closed"] == ids[0]
    assert call(server, "GET", f"/api/sessions/{ids[0]}/state")[0] == 404
    assert call(server, "DELETE", f"/api/sessions/{ids[0]}")[0] == 404
    status, _, answer = call(server, "POST", "/api/sessions", {})
    assert status == 201
    for sid in ids[1:] + [answer["id"]]:
        assert call(server, "DELETE", f"/api/sessions/{sid}")[0] == 200
    assert len(server.store) == 0


def test_a_bad_first_setting_creates_no_session(server):
    status, _, answer = call(server, "POST", "/api/sessions", {"hidden": "big"})
    assert status == 400 and "hidden: expected a list" in answer["error"] and len(server.store) == 0
