"""The book's side of every study: its setup, the numbers it published and its conclusion, with provenance.

``chapters.json`` (beside this file) holds them as data, one entry per study name (``demo/network`` and
``demo/learning-rate`` for chapter 1's demo): where each value comes from (repository, commit, notebook, cell) and
whether it is *exact* (printed by a notebook), *approximate* (read off a plot, with how), or a *setting* (a number of
the notebook's code). ``record(name)`` returns one entry as a ``BookRecord``; the reports show it beside the run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

PUBLISHED_KINDS = ("exact", "approximate", "setting")


@dataclass(frozen=True)
class BookValue:
    name: str
    value: Any
    kind: str  # one of PUBLISHED_KINDS
    where: str  # notebook and cell
    how: str = ""


@dataclass(frozen=True)
class BookRecord:
    name: str
    title: str
    sources: tuple[dict[str, str], ...]
    setup: tuple[str, ...]
    values: tuple[BookValue, ...]
    conclusion: str | None
    conclusion_basis: str
    plots: str = ""
    extra: dict[str, Any] | None = None

    def value(self, name: str) -> Any:
        """The published value called ``name`` (KeyError if the book has none by that name)."""
        for v in self.values:
            if v.name == name:
                return v.value
        raise KeyError(f"the book's {self.name!r} has no value {name!r}")


@lru_cache(maxsize=1)
def _entries() -> dict[str, Any]:
    with open(Path(__file__).with_name("chapters.json"), encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def names() -> list[str]:
    return list(_entries())


def record(name: str) -> BookRecord | None:
    """The book's entry for study ``name``, or None when the book has no such study (a study of your own)."""
    entry = _entries().get(name)
    if entry is None:
        return None
    known = {"title", "sources", "setup", "values", "conclusion", "plots"}
    conclusion = entry.get("conclusion") or {}
    return BookRecord(name, entry["title"], tuple(entry["sources"]), tuple(entry["setup"]),
                      tuple(BookValue(**v) for v in entry["values"]), conclusion.get("text"),
                      conclusion.get("basis", ""), entry.get("plots", ""),
                      {k: v for k, v in entry.items() if k not in known} or None)
