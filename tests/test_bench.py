"""The benchmark harness: a --quick smoke run end to end (never asserting on time), and the pieces it trusts.

What must be right for the numbers to mean anything: the hand-written NumPy MLP computes the same SGD step as the
engine (and PyTorch); the GEMM bound times exactly the network's five products; the sampled finite differences are
the chapter's procedure; the summary takes medians and the ratios divide the right way round.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from nnblocks import bench
from nnblocks.bench.backprop import forward_difference_at, measure_backprop, sample_positions
from nnblocks.bench.command import add_arguments, resolve_defaults
from nnblocks.bench.data import load_data, prepare_data, synthetic_mnist
from nnblocks.bench.gemm import gemm_bound, gemm_shapes
from nnblocks.bench.machine import available_systems
from nnblocks.bench.numpy_mlp import NumpyMLP
from nnblocks.bench.speed import ratios, summarise
from nnblocks.bench.worker import start_worker
from nnblocks.bench.workload import CLASSES, IN_FEATURES, REQUIRES


def _rng_batch(n: int = 16, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, IN_FEATURES), dtype=np.float32)
    y = rng.integers(0, CLASSES, size=n).astype(np.int64)
    return x, y


def test_quick_run_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = bench.main(["--quick", "--samples", "600", "--test-samples", "200", "--batch-sizes", "32", "256",
                       "--systems", "nnblocks", "fit", "numpy", "gemm", "--threads", "1", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "nnblocks/NumPy" in printed and "nnblocks/GEMM bound" in printed and "nnblocks/fit()" in printed
    report = json.loads(out.read_text())
    assert report["config"]["data"] == {"source": report["config"]["data"]["source"], "train": 600, "test": 200}
    assert report["machine"]["cpu"] and report["machine"]["versions"]["numpy"] == np.__version__
    for batch in ("32", "256"):
        per_system = report["results"][batch]
        assert set(per_system) == {"nnblocks", "fit", "numpy", "gemm"}
        for system in ("nnblocks", "fit", "numpy"):
            s = per_system[system]
            assert s["errors"] == [] and s["measurements"] == 1 and s["dtype"] == "float32"
            assert 0.0 <= s["test_accuracy"] <= 1.0 and s["peak_rss_mib"] > 0
            run = s["runs"][0]
            assert run["samples"] == 600 and len(run["epoch_seconds"]) == 1
        gemm = per_system["gemm"]
        assert gemm["runs"][0]["effective_batch"] == int(batch) and len(gemm["runs"][0]["per_product_ms"]) == 6
        ratios = report["ratios"][batch]
        assert ratios["nnblocks/numpy"] == pytest.approx(per_system["nnblocks"]["samples_per_s"]
                                                         / per_system["numpy"]["samples_per_s"])


def test_quick_run_with_pytorch(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "bench.json"
    assert bench.main(["--quick", "--samples", "500", "--test-samples", "100", "--batch-sizes", "100",
                       "--systems", "nnblocks", "pytorch", "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    torch_run = report["results"]["100"]["pytorch"]
    assert torch_run["errors"] == [] and torch_run["dtype"] == "torch.float32"
    assert "nnblocks/pytorch" in report["ratios"]["100"]


def test_missing_library_is_skipped_with_a_note(monkeypatch):
    monkeypatch.setitem(REQUIRES, "sklearn", "no_such_module_for_nnblocks_bench")
    systems, notes = available_systems(["nnblocks", "sklearn", "gemm"])
    assert systems == ["nnblocks", "gemm"]
    assert notes == ["scikit-learn skipped: the 'no_such_module_for_nnblocks_bench' package is not installed"]


def test_failed_worker_is_reported_not_hidden(tmp_path):
    args = resolve_defaults(bench_args(["--quick"]))
    result = start_worker("nnblocks", 32, args, tmp_path / "no-data-here", seed=0)
    assert "error" in result and "exited with code" in result["error"]


def bench_args(argv):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_numpy_mlp_step_equals_engine_step():
    """Same weights, same batch: one SGD step of the hand-written MLP and of nnblocks give the same weights."""
    import nnblocks as nb
    from nnblocks import nn, optim

    x, y = _rng_batch()
    ref = NumpyMLP(seed=3)
    model = nn.MLP.from_chapter_weights([ref.w1, ref.b1, ref.w2, ref.b2], activation="relu")  # copies, transposed
    optimizer = optim.SGD(model.parameters(), lr=0.5)  # a large step, so a wrong gradient cannot hide
    loss = nn.CrossEntropyLoss()(model(nb.Tensor(x)), nb.Tensor(y))
    loss.backward()
    optimizer.step()
    ref_loss = ref.step(x, y, 0.5)
    assert ref_loss == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(ref.w1.T, model[0].weight.data, atol=1e-6)
    np.testing.assert_allclose(ref.b1, model[0].bias.data, atol=1e-6)
    np.testing.assert_allclose(ref.w2.T, model[2].weight.data, atol=1e-6)
    np.testing.assert_allclose(ref.b2, model[2].bias.data, atol=1e-6)
    assert ref.w1.dtype == np.float32


def test_numpy_mlp_step_equals_torch_step():
    torch = pytest.importorskip("torch")
    x, y = _rng_batch(seed=1)
    ref = NumpyMLP(seed=4)
    w1, b1, w2, b2 = (torch.tensor(a.copy(), requires_grad=True) for a in (ref.w1, ref.b1, ref.w2, ref.b2))
    logits = torch.relu(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y))
    loss.backward()
    ref_loss = ref.step(x, y, 0.5)
    assert ref_loss == pytest.approx(loss.item(), rel=1e-5)
    with torch.no_grad():
        for mine, theirs in ((ref.w1, w1), (ref.b1, b1), (ref.w2, w2), (ref.b2, b2)):
            np.testing.assert_allclose(mine, (theirs - 0.5 * theirs.grad).numpy(), atol=1e-6)


def test_numpy_mlp_init_matches_linear_bounds():
    ref = NumpyMLP(seed=0)
    assert np.abs(ref.w1).max() <= 1 / np.sqrt(784) and np.abs(ref.w1).max() > 0.9 / np.sqrt(784)
    assert np.abs(ref.w2).max() <= 1 / np.sqrt(1000) and np.abs(ref.b2).max() <= 1 / np.sqrt(1000)


def test_gemm_shapes_are_the_five_products_of_a_step():
    outputs, flops = [], 0
    for _, sa, sb, ta, tb in gemm_shapes(32):
        rows, inner = (sa[1], sa[0]) if ta else sa
        inner_b, cols = (sb[1], sb[0]) if tb else sb
        assert inner == inner_b
        outputs.append((rows, cols))
        flops += 2 * rows * inner * cols
    assert outputs == [(32, 1000), (32, 10), (10, 1000), (32, 1000), (1000, 784)]
    # Forward 784*1000 + 1000*10 multiply-adds per sample, backward twice the second layer's and once the first's.
    assert flops == 2 * 32 * (2 * 784 * 1000 + 3 * 1000 * 10)
    result = gemm_bound(8, seconds=0.01)
    assert result["samples_per_s"] == pytest.approx(8 / result["step_seconds"])
    # the five products (each on its faster thread count) and the update, which the step's time is the sum of
    assert len(result["per_product_ms"]) == 6 and set(result["threads"]) == {name for name, *_ in gemm_shapes(8)}
    assert 1e3 * result["step_seconds"] == pytest.approx(sum(result["per_product_ms"].values()))


def test_slow_blas_kernel_is_named_once_in_a_note():
    from nnblocks.bench.machine import slow_kernel_note

    def machine(kernel, env=None):
        return {"thread_env": env or {}, "numpy_blas_libraries": [{"internal_api": "openblas", "architecture": kernel}]}

    avx512 = {"avx2", "avx512f"}
    assert slow_kernel_note(machine("SkylakeX"), avx512) is None
    assert slow_kernel_note(machine("Haswell"), {"avx2"}) is None
    note = slow_kernel_note(machine("Prescott"), avx512)
    assert "Prescott kernel" in note and "AVX-512" in note
    assert "Haswell kernel" in slow_kernel_note(machine("Haswell"), avx512)
    forced = slow_kernel_note(machine("Haswell", {"OPENBLAS_CORETYPE": "Haswell"}), {"avx2"})
    assert "OPENBLAS_CORETYPE=Haswell is set" in forced


def test_synthetic_mnist_is_seeded_uint8_with_class_structure():
    x, y = synthetic_mnist(2000, seed=5)
    x2, y2 = synthetic_mnist(2000, seed=5)
    assert x.shape == (2000, 784) and x.dtype == np.uint8 and y.dtype == np.int64
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert set(np.unique(y)) == set(range(10))
    assert not np.array_equal(synthetic_mnist(50, seed=6)[0], x[:50])
    # Classes are learnable but not trivially separable: nearest class mean is right well above chance, not always.
    test_x, test_y = synthetic_mnist(1000, seed=7)
    means = np.stack([x[y == c].mean(axis=0) for c in range(10)])
    nearest = np.argmin(((test_x[:, None, :].astype(np.float32) - means) ** 2).sum(axis=2), axis=1)
    assert 0.4 < np.mean(nearest == test_y) < 0.995


def test_sampled_forward_differences_are_the_chapters():
    from nnblocks.fundamentals import finite_difference_gradients, network_231

    x, y, w = network_231("float32")
    positions = sample_positions(w, 1000, seed=0)
    assert len(positions) == 13 and positions[0] == (0, (0, 0)) and positions[-1] == (3, (0,))
    derivatives, seconds = forward_difference_at(x, y, w, positions)
    expected = np.concatenate([g.ravel() for g in finite_difference_gradients(x, y, w, scheme="forward")])
    np.testing.assert_allclose(derivatives, expected, rtol=1e-6)
    assert seconds > 0
    few = sample_positions(w, 5, seed=1)
    assert len(set(few)) == 5 and few == sorted(few)


def test_backprop_measurement_agrees_with_finite_differences():
    from nnblocks.fundamentals import network_231

    x, y, w = network_231("float32")
    row = measure_backprop("2-3-1", x, y, w, fd_sample=13, seconds=0.01, seed=0)
    assert row["weights"] == 13 and not row["fd_extrapolated"]
    assert row["max_abs_fd_minus_backprop"] < 2e-3  # float32, h = 1e-4: forward differences carry ~1e-3 error
    assert row["fd_seconds"] > 0 and row["backprop_seconds"] > 0


def test_backprop_quick_run(tmp_path, capsys):
    out = tmp_path / "bp.json"
    assert bench.main(["--backprop", "--quick", "--fd-sample", "5", "--fd-batch", "4", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert [r["network"] for r in report["rows"]] == ["2-3-1 (chapter)", "784-10-10", "784-1000-10"]
    big = report["rows"][-1]
    assert big["weights"] == 795_010 and big["fd_extrapolated"] and big["fd_weights_timed"] == 5
    assert "extrapolated from 5" in capsys.readouterr().out


def test_summary_takes_medians_and_ratios_divide_nnblocks_by_the_other():
    runs = [{"system": "numpy", "samples_per_s": [10.0, 30.0], "test_accuracy": 0.5, "epoch_loss": [1.0],
             "peak_rss_mib": 5.0, "effective_batch": 32},
            {"system": "numpy", "samples_per_s": [20.0, 40.0], "test_accuracy": 0.7, "epoch_loss": [2.0],
             "peak_rss_mib": 7.0, "effective_batch": 32},
            {"error": "worker exited with code 1"}]
    s = summarise(runs)
    assert s["samples_per_s"] == 25.0 and s["min_samples_per_s"] == 10.0 and s["max_samples_per_s"] == 40.0
    assert s["test_accuracy"] == pytest.approx(0.6) and s["peak_rss_mib"] == 7.0
    assert s["errors"] == ["worker exited with code 1"]
    assert ratios({"nnblocks": {"samples_per_s": 50.0}, "numpy": s, "gemm": {}}) == {"nnblocks/numpy": 2.0}


def test_cli_registers_bench():
    from nnblocks import cli

    args = cli.build_parser().parse_args(["bench", "--quick", "--batch-sizes", "64"])
    assert args.func is not None and args.batch_sizes == [64] and args.quick
    with pytest.raises(SystemExit):
        resolve_defaults(bench_args(["--epochs", "0"]))


def _write_idx(path, array: np.ndarray) -> None:
    """An IDX file as MNIST ships it: magic 0x0000 08 <ndim>, big-endian dimensions, then the unsigned bytes."""
    import struct

    header = struct.pack(">I", 0x0800 + array.ndim) + b"".join(struct.pack(">I", n) for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_data_dir_reads_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 120), ("t10k", 40)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n))
    args = resolve_defaults(bench_args(["--quick", "--data-dir", str(tmp_path), "--samples", "100"]))
    folder = tmp_path / "prepared"
    folder.mkdir()
    info = prepare_data(args, folder)
    assert info["train"] == 100 and info["test"] == 40 and info["source"].startswith("MNIST from")
    train_x, train_y, test_x, test_y = load_data(folder)
    assert train_x.shape == (100, 784) and train_x.dtype == np.float32 and 0 <= train_x.min() <= train_x.max() <= 1
    assert test_y.dtype == np.int64 and test_y.shape == (40,)
    args.samples = 500
    with pytest.raises(SystemExit, match="holds only 120"):
        prepare_data(args, folder)


def test_worker_peak_rss_is_its_own_not_the_parents(tmp_path):
    """ru_maxrss survives exec on Linux: a worker must not report the parent's peak memory as its own."""
    args = resolve_defaults(bench_args(["--quick", "--samples", "100", "--test-samples", "10"]))
    prepare_data(args, tmp_path)
    ballast = np.ones(400 * 2**20 // 8)  # the parent now peaks above 400 MiB
    result = start_worker("gemm", 32, args, tmp_path, seed=0)
    del ballast
    assert "error" not in result and 0 < result["peak_rss_mib"] < 300
