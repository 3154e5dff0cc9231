"""Optimizers: step-by-step parity with torch.optim, in-place float32 updates, state_dict round trips, errors."""
from __future__ import annotations

import numpy as np
import pytest

import nnblocks as nb
from nnblocks.errors import CheckpointError, DTypeError, ShapeError
from nnblocks.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from nnblocks.optim.optimizer import add_scaled_

N_STEPS = 25
OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop}

# (optimizer name, keyword arguments); each runs 25 steps against torch.optim from the same start.
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.1, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("SGD", dict(lr=0.01, maximize=True)),
    ("SGD", dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-3, amsgrad=True)),
    ("Adam", dict(lr=0.05, eps=0.01)),
    ("Adam", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1, eps=1e-3)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def start_arrays(dtype=np.float64) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(3, 4)).astype(dtype), "b": rng.normal(size=4).astype(dtype)}


def objective() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Targets and (diagonal) curvatures of the fixed quadratic objective."""
    rng = np.random.default_rng(1)
    target = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4)}
    curvature = {"W": rng.uniform(0.5, 3.0, size=(3, 4)), "b": rng.uniform(0.5, 3.0, size=4)}
    return target, curvature


def gradients(params: dict[str, np.ndarray], step: int) -> dict[str, np.ndarray]:
    """Gradient of f = sum(h_W (W - A)^2)/2 + sum(h_b (b - c)^2)/2, plus fixed seeded noise per step (like a minibatch)."""
    target, curvature = objective()
    noise = np.random.default_rng(100 + step)
    return {
        k: (curvature[k] * (params[k] - target[k]) + 0.3 * noise.normal(size=params[k].shape)).astype(params[k].dtype)
        for k in params
    }


def make_nb(arrays: dict[str, np.ndarray]) -> dict[str, nb.Tensor]:
    return {k: nb.Tensor(v.copy(), requires_grad=True) for k, v in arrays.items()}


def run_nb(name: str, kwargs: dict, params: dict[str, nb.Tensor], steps: range, opt: Optimizer | None = None):
    """Steps with read-only gradients (the optimizer must never write into p.grad), plus an unused parameter."""
    if opt is None:
        opt = OPTIMIZERS[name](list(params.values()), **kwargs)
    for step in steps:
        grads = gradients({k: p.data for k, p in params.items()}, step)
        for k, p in params.items():
            grads[k].flags.writeable = False
            p.grad = nb.Tensor(grads[k])
        opt.step()
        opt.zero_grad()
    return opt


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-12))


def torch_parity_error(name: str, kwargs: dict) -> float:
    """Largest relative difference between nnblocks and torch over 25 steps, in parameters and in optimizer state."""
    torch = pytest.importorskip("torch")
    start = start_arrays()
    ours = make_nb(start)
    unused = nb.Tensor(np.ones(2), requires_grad=True)  # never gets a gradient: must be left alone, like torch does
    opt = OPTIMIZERS[name]([*ours.values(), unused], **kwargs)
    ref = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    ref_opt = getattr(torch.optim, name)([*ref.values(), torch.ones(2, dtype=torch.float64, requires_grad=True)], **kwargs)

    worst = 0.0
    for step in range(N_STEPS):
        run_nb(name, kwargs, ours, range(step, step + 1), opt)
        grads = gradients({k: t.detach().numpy() for k, t in ref.items()}, step)
        for k, t in ref.items():
            t.grad = torch.from_numpy(grads[k])
        ref_opt.step()
        ref_opt.zero_grad()
        for k in ours:
            worst = max(worst, relative_error(ours[k].data, ref[k].detach().numpy()))
    for k in ours:
        ref_state = ref_opt.state[ref[k]]
        for key, value in opt.state.get(ours[k], {}).items():
            if isinstance(value, np.ndarray):
                worst = max(worst, relative_error(value, ref_state[key].numpy()))
            else:
                assert value == float(ref_state[key]) == N_STEPS
    assert np.array_equal(unused.data, np.ones(2)) and unused not in opt.state
    return worst


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_over_25_steps(name, kwargs):
    assert torch_parity_error(name, kwargs) <= 1e-6


def quadratic_loss(params: dict[str, np.ndarray]) -> float:
    """The objective behind gradients() without its noise: f = sum(h (p - target)^2) / 2."""
    target, curvature = objective()
    return float(sum((curvature[k] * (params[k] - target[k]) ** 2).sum() / 2 for k in params))


def test_moves_parameters_the_right_way():
    # The parity test would pass for a no-op if torch were also a no-op: check the loss really drops (rises when
    # maximizing), and one hand-computed momentum step.
    for name, kwargs in CONFIGS:
        params = make_nb(start_arrays())
        before = quadratic_loss({k: p.data for k, p in params.items()})
        run_nb(name, kwargs, params, range(N_STEPS))
        after = quadratic_loss({k: p.data for k, p in params.items()})
        if kwargs.get("maximize"):
            assert after > before * 1.05, (name, kwargs, before, after)
        else:
            assert after < before * 0.95, (name, kwargs, before, after)
    w = nb.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = SGD([w], lr=0.1, momentum=0.9)
    for _ in range(2):
        w.grad = nb.Tensor(np.array([1.0, 2.0]))
        opt.step()
    # b1 = g, w1 = w0 - 0.1 g; b2 = 0.9 g + g = 1.9 g, w2 = w1 - 0.19 g
    np.testing.assert_allclose(w.data, [1.0 - 0.29, -2.0 - 0.58], rtol=1e-12)


def test_param_groups_with_their_own_rates_match_torch():
    torch = pytest.importorskip("torch")
    start = start_arrays()
    ours = make_nb(start)
    ref = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in start.items()}
    opt = Adam([{"params": [ours["W"]]}, {"params": [ours["b"]], "lr": 0.2, "betas": (0.5, 0.9)}], lr=0.01)
    ref_opt = torch.optim.Adam([{"params": [ref["W"]]}, {"params": [ref["b"]], "lr": 0.2, "betas": (0.5, 0.9)}], lr=0.01)
    assert opt.param_groups[1]["lr"] == 0.2 and opt.param_groups[0]["lr"] == 0.01
    for step in range(N_STEPS):
        run_nb("Adam", {}, ours, range(step, step + 1), opt)
        grads = gradients({k: t.detach().numpy() for k, t in ref.items()}, step)
        for k, t in ref.items():
            t.grad = torch.from_numpy(grads[k])
        ref_opt.step()
    for k in ours:
        assert relative_error(ours[k].data, ref[k].detach().numpy()) <= 1e-6


def test_add_param_group_and_named_parameters():
    a, b = nb.Tensor(np.ones(3), requires_grad=True), nb.Tensor(np.ones(2), requires_grad=True)
    opt = SGD([("layer.weight", a)], lr=0.1, momentum=0.5)
    assert opt.param_groups[0]["param_names"] == ["layer.weight"]
    opt.add_param_group({"params": b, "lr": 1.0})
    assert opt.param_groups[1]["momentum"] == 0.5 and opt.param_groups[1]["lr"] == 1.0
    a.grad, b.grad = nb.Tensor(np.ones(3)), nb.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(a.data, np.full(3, 0.9))
    np.testing.assert_array_equal(b.data, np.zeros(2))
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [a]})


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
])
def test_float32_updates_in_place_and_stays_float32(name, kwargs):
    params = make_nb(start_arrays(np.float32))
    arrays = {k: p.data for k, p in params.items()}
    kwargs = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in kwargs.items()}  # NumPy scalars too
    opt = run_nb(name, kwargs, params, range(3))
    for k, p in params.items():
        assert p.data is arrays[k], "step() must update p.data in place, not rebind it"
        assert p.data.dtype == np.float32
        assert not np.array_equal(p.data, start_arrays(np.float32)[k])
        for value in opt.state.get(p, {}).values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32
    assert type(opt.param_groups[0]["lr"]) is float


def test_add_scaled_blocked_path_matches_plain_formula():
    rng = np.random.default_rng(3)
    n = (1 << 21) + 12345  # above the blocking threshold, not a multiple of the block
    target, x = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    expected = target + np.float32(-0.01) * x
    alias = target
    add_scaled_(target, x, -0.01)
    assert target is alias and target.dtype == np.float32
    np.testing.assert_array_equal(target, expected)
    # a non-contiguous view is updated through the view (plain path), not through a copy
    base = np.zeros((4, 6))
    add_scaled_(base.T, np.ones((6, 4)), 2.0)
    np.testing.assert_array_equal(base, np.full((4, 6), 2.0))


def test_zero_grad():
    p = nb.Tensor(np.ones(3), requires_grad=True)
    held = nb.Tensor(np.full(3, 5.0))
    p.grad = held
    opt = SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)  # zeroed in place, as PyTorch's zero_grad(set_to_none=False)
    assert p.grad is held
    np.testing.assert_array_equal(held.data, np.zeros(3))
    (p * 2.0).sum().backward()  # the next backward adds into the same tensor
    assert p.grad is held
    np.testing.assert_array_equal(held.data, np.full(3, 2.0))
    opt.zero_grad()
    assert p.grad is None
    opt.zero_grad(set_to_none=False)  # no gradient: nothing to zero
    assert p.grad is None


def test_step_with_closure_returns_loss():
    w = nb.Tensor(np.array([3.0]), requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.data) == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.25 * 6.0])


# ---- state_dict -----------------------------------------------------------------------------------------------------
def assert_plain_data(obj, where="state_dict"):
    """Only ndarrays (non-object), numbers, strings, lists and dicts with str/int keys: storable without pickle."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert isinstance(key, (str, int)), f"{where}: key {key!r}"
            assert_plain_data(value, f"{where}[{key!r}]")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            assert_plain_data(value, f"{where}[{i}]")
    elif isinstance(obj, np.ndarray):
        assert obj.dtype != object, where
    else:
        assert isinstance(obj, (bool, int, float, str)), f"{where}: {type(obj).__name__}"


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_is_bit_identical(name, kwargs):
    uninterrupted = make_nb(start_arrays())
    run_nb(name, kwargs, uninterrupted, range(N_STEPS))

    first = make_nb(start_arrays())
    opt = run_nb(name, kwargs, first, range(10))
    saved = opt.state_dict()
    assert_plain_data(saved)
    stateless = name == "SGD" and not kwargs.get("momentum")  # plain SGD keeps no state, like torch
    assert sorted(saved["state"]) == ([] if stateless else [0, 1]) and saved["param_groups"][0]["params"] == [0, 1]
    snapshot = {k: v.copy() for k, v in saved["state"].get(0, {}).items() if isinstance(v, np.ndarray)}
    run_nb(name, kwargs, first, range(10, 12), opt)  # training on must not change a state_dict already taken
    for k, v in snapshot.items():
        np.testing.assert_array_equal(saved["state"][0][k], v)

    # a fresh model with the checkpointed weights, a fresh optimizer with other hyperparameters, then load
    resumed = make_nb({k: p.data for k, p in make_nb(start_arrays()).items()})
    run_nb(name, kwargs, resumed, range(10))
    restart = make_nb({k: p.data for k, p in resumed.items()})
    fresh = OPTIMIZERS[name](list(restart.values()), lr=123.0)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs["lr"]
    if "betas" in kwargs:
        assert fresh.param_groups[0]["betas"] == kwargs["betas"]
    run_nb(name, kwargs, restart, range(10, N_STEPS), fresh)
    for k in uninterrupted:
        np.testing.assert_array_equal(restart[k].data, uninterrupted[k].data)


def test_load_state_dict_accepts_file_round_trip_types():
    # After a trip through .npz, keys may be strings and numbers 0-d arrays; betas a list.
    params = make_nb(start_arrays())
    opt = run_nb("Adam", dict(lr=0.05), params, range(3))
    saved = opt.state_dict()
    saved["state"] = {str(i): {k: np.asarray(v) for k, v in s.items()} for i, s in saved["state"].items()}
    saved["param_groups"][0]["lr"] = np.asarray(0.05)
    other = Adam(list(make_nb(start_arrays()).values()))
    other.load_state_dict(saved)
    state = next(iter(other.state.values()))
    assert state["step"] == 3 and isinstance(state["step"], int)
    assert other.param_groups[0]["betas"] == (0.9, 0.999) and other.param_groups[0]["lr"] == 0.05


def test_load_state_dict_errors_name_the_mismatch():
    params = make_nb(start_arrays())
    opt = run_nb("Adam", dict(lr=0.05), params, range(2))
    saved = opt.state_dict()
    with pytest.raises(CheckpointError, match="saved state has 2 parameter group.*this optimizer has 1"):
        Adam([nb.Tensor(np.ones(4))]).load_state_dict({"state": {}, "param_groups": saved["param_groups"] * 2})
    with pytest.raises(CheckpointError, match="saved group 0 has 2 parameters"):
        Adam([nb.Tensor(np.ones(4))]).load_state_dict(saved)
    swapped = Adam([nb.Tensor(np.ones(4)), nb.Tensor(np.ones((3, 4)))])
    with pytest.raises(CheckpointError, match=r"'exp_avg' of parameter 0 has shape \(3, 4\).*shape \(4,\)"):
        swapped.load_state_dict(saved)
    with pytest.raises(CheckpointError, match=r"lacks hyperparameters \['dampening', 'momentum', 'nesterov'\]"):
        SGD(list(make_nb(start_arrays()).values())).load_state_dict(saved)
    with pytest.raises(CheckpointError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"lr": 0.1})



@pytest.mark.parametrize("damage,complaint", [
    (lambda s: s["param_groups"][0].update(lr=-1.0), r"saved group 0: Adam: invalid lr value: -1.0"),
    (lambda s: s["param_groups"][0].update(betas=[0.9]), r"saved group 0: Adam: betas must be a pair"),
    (lambda s: s["param_groups"][0].pop("params"), r"saved group 0 is not a dict with a 'params' list"),
    (lambda s: s["state"][1].update(step="x"), r"the step count of parameter 1 is 'x', not a number"),
    (lambda s: s["state"].update({"one": {}}), r"'one' is not a parameter index"),
    (lambda s: s["state"].update({0: [1, 2]}), r"the state of parameter 0 is a list, not a dict"),
])
def test_a_bad_state_is_refused_by_the_check_before_anything_changes(damage, complaint):
    opt = run_nb("Adam", dict(lr=0.05), make_nb(start_arrays()), range(3))
    saved = opt.state_dict()
    damage(saved)
    target = run_nb("Adam", dict(lr=0.01, betas=(0.8, 0.9)), make_nb(start_arrays()), range(2))
    before = target.state_dict()
    for method in (target.check_state_dict, target.load_state_dict):
        with pytest.raises(CheckpointError, match=complaint):
            method(saved)
        now = target.state_dict()
        assert now["param_groups"] == before["param_groups"] and sorted(now["state"]) == sorted(before["state"])
        for i, entry in before["state"].items():
            assert now["state"][i]["step"] == entry["step"] == 2
            np.testing.assert_array_equal(now["state"][i]["exp_avg"], entry["exp_avg"])

# ---- errors -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory,value", [
    (lambda p: SGD(p, lr=-0.1), "-0.1"),
    (lambda p: SGD(p, lr=0.1, momentum=-0.5), "-0.5"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-0.001), "-0.001"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "momentum=0.0"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.25, nesterov=True), "dampening=0.25"),
    (lambda p: Adam(p, lr=-2.0), "-2.0"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), "index 0: 1.0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "index 1: -0.1"),
    (lambda p: Adam(p, eps=-1e-08), "-1e-08"),
    (lambda p: AdamW(p, weight_decay=-0.01), "-0.01"),
    (lambda p: RMSprop(p, alpha=-0.5), "-0.5"),
    (lambda p: RMSprop(p, momentum=-0.2), "-0.2"),
    (lambda p: RMSprop(p, lr=float("nan")), "nan"),
])
def test_bad_hyperparameters_raise_value_error_naming_the_value(factory, value):
    with pytest.raises(ValueError) as info:
        factory([nb.Tensor(np.ones(2), requires_grad=True)])
    assert value in str(info.value)


def test_bad_params_raise_clear_errors():
    p = nb.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 of the group is a ndarray"):
        SGD([p, np.ones(2)], lr=0.1)
    with pytest.raises(TypeError, match="not a set"):
        SGD({p}, lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([p, p], lr=0.1)
    with pytest.raises(DTypeError, match="int64"):
        SGD([nb.Tensor(np.arange(3))], lr=0.1)
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD([p], lr="0.1")
    opt = SGD([p], lr=0.1)
    with pytest.raises(ShapeError, match=r"gradient of shape \(3,\) to a tensor of shape \(2,\)"):
        p.grad = nb.Tensor(np.ones(3))
    p.grad = nb.Tensor(np.ones(2))
    p.data = np.ones(3)  # the parameter replaced after backward: its old gradient no longer fits
    with pytest.raises(ShapeError, match=r"shape \(3,\) but its gradient has shape \(2,\)"):
        opt.step()
    with pytest.raises(TypeError, match="a .grad must be a Tensor or None, got ndarray"):
        p.grad = np.ones(3)


def test_add_scaled_with_scratch_leaves_the_gradient_untouched():
    # target += alpha * x through a caller-owned scratch array: x (a gradient, read-only by contract) is not written
    target = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = np.full((2, 3), 2.0, dtype=np.float32)
    x.flags.writeable = False
    scratch = np.empty_like(target)
    add_scaled_(target, x, -0.5, scratch)
    np.testing.assert_array_equal(target, [[-1, 0, 1], [2, 3, 4]])
    np.testing.assert_array_equal(scratch, np.full((2, 3), -1.0))


def test_importing_nnblocks_leaves_the_allocator_alone():
    # issue 14: after `import nnblocks`, a freed 400 MB array goes back to the OS, as in any process. With glibc's
    # thresholds raised (the old import-time setting), the process kept it all: RSS would stay ~400 MB higher.
    import subprocess
    import sys

    code = ("import nnblocks, numpy as np\n"
            "def rss():\n"
            "    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]) // 1024\n"
            "before = rss(); a = np.ones(5 * 10**7); a += 1; del a; print(rss() - before)")
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/self/status")
    env = {k: v for k, v in __import__("os").environ.items() if k != "NNBLOCKS_KEEP_MEMORY"}
    kept_mib = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                  env=env).stdout)
    assert kept_mib < 100  # 381 MiB were allocated and freed; a few MiB of NumPy's own caches may remain


def test_the_allocator_setting_is_opt_in(monkeypatch):
    from nnblocks import _memory

    monkeypatch.delenv("NNBLOCKS_KEEP_MEMORY", raising=False)
    assert _memory.requested() is False
    monkeypatch.setenv("NNBLOCKS_KEEP_MEMORY", "1")
    assert _memory.requested() is True
