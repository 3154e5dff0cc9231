"""The finite-difference vs backprop table, and how each cost grew from one network to the next."""
from __future__ import annotations

from typing import Any


def _duration(seconds: float) -> str:
    """A time in the unit that reads best: '2.1 h', '3.4 min', '1.2 s', '5.6 ms', '78 us'."""
    for unit, scale in (("h", 3600), ("min", 60), ("s", 1), ("ms", 1e-3)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e6:.3g} us"


def format_backprop_table(rows: list[dict[str, Any]]) -> str:
    """One row per network: its weights, one forward pass, the FD gradient (measured or extrapolated), the backprop
    gradient, their ratio, backprop in forward passes, and the largest |FD - backprop| over the sampled weights."""
    header = (f"{'network':<16} {'weights':>9} {'forward':>9}  {'FD gradient (fwd diff.)':<30} {'backprop':>9} "
              f"{'FD/backprop':>12} {'backprop/fwd':>12} {'max|FD-BP|':>10}")
    lines = [header, "-" * len(header)]
    for r in rows:
        how = (f"extrapolated from {r['fd_weights_timed']}" if r["fd_extrapolated"]
               else f"measured, all {r['weights']}")
        fd = f"{_duration(r['fd_seconds'])} ({how})"
        lines.append(f"{r['network']:<16} {r['weights']:>9,} {_duration(r['forward_seconds_by_hand']):>9}  "
                     f"{fd:<30} {_duration(r['backprop_seconds']):>9} {r['fd_over_backprop']:>11,.0f}x "
                     f"{r['backprop_over_forward']:>11.1f}x {r['max_abs_fd_minus_backprop']:>10.1e}")
    return "\n".join(lines)


def growth_lines(rows: list[dict[str, Any]]) -> list[str]:
    """How each cost grew between consecutive big networks, against the growth of the weight count."""
    lines = []
    big = [r for r in rows if r["batch"] > 1 or r["weights"] > 100]
    for a, b in zip(big, big[1:]):
        lines.append(f"{a['network']} -> {b['network']}: weights x{b['weights'] / a['weights']:.1f}, "
                     f"finite differences x{b['fd_seconds'] / a['fd_seconds']:.0f}, "
                     f"backprop x{b['backprop_seconds'] / a['backprop_seconds']:.1f}")
    return lines
