"""The "The book" section of a report, and the verdict table of ``run all``: the book's setup, published numbers
(exact / approximate / settings, each with its notebook and cell) and conclusion, beside this run's verdict."""
from __future__ import annotations

from typing import Any, Sequence

from nnblocks.experiments import book
from nnblocks.experiments.base import PROTOCOLS


def _value(value: Any) -> str:
    if isinstance(value, list) and value and isinstance(value[0], list) and len(value) > 3:
        return f"{len(value)} x {len(value[0])} matrix (first row {', '.join(f'{x:g}' for x in value[0])})"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def _source(s: dict[str, str]) -> str:
    commit = f"@{s['commit'][:10]}" if s.get("commit") else ""
    return f"`{s['repository']}{commit}` {s['path']} (file id {s['file_id']}; cells: {s['cells']})"


def book_section(name: str, verdict: Any, protocol: str, book_protocol: Sequence[str] = ()) -> list[str]:
    """Markdown lines of the book's side of study ``name`` and the verdict of this run (``verdict.Verdict``)."""
    record = book.record(name)
    if record is None:
        return []
    out = ["## The book", "", f"*{record.title}*. Sources:", ""] + [f"- {_source(s)}" for s in record.sources]
    out += ["", "Setup (as the notebooks code it):", ""] + [f"- {line}" for line in record.setup]
    out += ["", "Published numbers:", "", "| what | value | kind | where |", "|---|---|---|---|"]
    out += [f"| {v.name} | {_value(v.value)} | {v.kind} | {v.where}{' - ' + v.how if v.how else ''} |"
            for v in record.values]
    if record.plots:
        out += ["", record.plots]
    conclusion = (f"{record.conclusion} ({record.conclusion_basis})" if record.conclusion else
                  "none stated (the notebooks carry no prose and the book's text was not available).")
    out += ["", f"The book's conclusion: {conclusion}", "",
            f"This run's protocol: `{protocol}` ({PROTOCOLS.get(protocol, protocol)})."]
    if book_protocol:
        out += ["", "The book's protocol, as applied here:", ""] + [f"- {line}" for line in book_protocol]
    if verdict is not None:
        out += ["", f"**Verdict**: {verdict.line()}"]
    return out + [""]


def verdict_rows(results: Sequence[Any]) -> list[list[str]]:
    rows = []
    for r in results:
        v, record = r.extra.get("verdict"), book.record(r.name)
        if v is None:
            continue
        rows.append([r.name, record.conclusion if record and record.conclusion else "—", v.status,
                     v.measured + (f" ({v.why})" if v.why else "")])
    return rows
