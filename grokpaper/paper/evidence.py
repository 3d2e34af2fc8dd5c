"""The per-run evidence that the statistics family and the claims audit read.

Every chapter saves its runs one row each (``results/<chapter>.json``, key ``table``, or
``neuron_table`` for the circuits). ``Evidence`` gathers those tables in one place with the
few parameters needed to read them (cap, thresholds, p, d_mlp), so that a statistic is
always recomputed from runs, never copied from another statistic. That is what makes the
sensitivity analysis possible: ``Evidence.without(runs)`` drops runs from every table at
once (the transfer run, its retention row, its circuit row, its dynamics row and every
agreement pair it belongs to), and the same code computes the verdicts again.

A run is named by ``(condition, seed)``. A transfer run has *not converged* when it never
reached the highest threshold on its own training task (test accuracy on the transfer task)
within the cap; a source run has not converged when it never grokked its task.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from grokpaper.analysis.stats import is_missing
from grokpaper.paper import contract
from grokpaper.paper.contract import FIRST, epochs_column, pct
from grokpaper.paper.retention import TASK_NOUN

TABLES = {  # attribute: (chapter's contract class, its field holding the one-row-per-run table)
    "sources": (contract.Sources, "table"),
    "transfers": (contract.Transfer, "table"),
    "retention": (contract.Retention, "table"),
    "agreement": (contract.Agreement, "table"),
    "circuits": (contract.Circuits, "neuron_table"),
    "dynamics": (contract.Dynamics, "table"),
    "inside": (contract.Inside, "circuits_table"),   # one row per transfer run and point (start, matched, end)
    "relearning": (contract.Relearning, "table"),    # one row per relearning run and per source's first learning
    "controls": (contract.WhatTransfers, "epochs_table"),  # one row per transfer and control run (chapter 12)
}


@dataclass(frozen=True)
class RunId:
    """One transfer run (``condition`` is a transfer condition) or source run (``"source"``)."""

    condition: str
    seed: int
    why: str = ""

    def __str__(self) -> str:
        return f"{self.condition} seed {self.seed}"


@dataclass(frozen=True)
class Evidence:
    """The study's per-run tables (missing chapters: None) and the parameters to read them."""

    sources: pd.DataFrame | None = None
    transfers: pd.DataFrame | None = None
    retention: pd.DataFrame | None = None
    agreement: pd.DataFrame | None = None
    circuits: pd.DataFrame | None = None
    dynamics: pd.DataFrame | None = None
    inside: pd.DataFrame | None = None
    relearning: pd.DataFrame | None = None
    controls: pd.DataFrame | None = None
    params: dict = field(default_factory=dict)
    excluded: tuple[RunId, ...] = ()

    @classmethod
    def from_results(cls, results, tables=tuple(TABLES)) -> "Evidence":
        """The tables (names of ``TABLES``; default all) of the chapters that have results
        (``report.Results``). A chapter names the tables of the chapters it depends on: the
        others may be of an older build, still to be executed after it."""
        unknown = [t for t in tables if t not in TABLES]
        if unknown:
            raise ValueError(f"tables must be among {', '.join(TABLES)}; got {unknown}")
        tables = {name: pd.DataFrame(getattr(results.get(kind), key)) if name in tables and results.has(kind) else None
                  for name, (kind, key) in TABLES.items()}
        params = {}
        for kind in (contract.Relearning, contract.Circuits, contract.Transfer, contract.Sources):  # later ones win: all share the study keys
            if results.has(kind):
                params.update(results.params(kind))
        if tables["circuits"] is not None:
            params["d_mlp"] = results.circuits.d_mlp
        return cls(**tables, params=params)

    # -- what to read -------------------------------------------------------------------------

    def table(self, name: str) -> pd.DataFrame:
        """One table by name (``TABLES``); KeyError naming the chapter when it has no results."""
        if name not in TABLES:
            raise ValueError(f"table must be one of {', '.join(TABLES)}; got {name!r}")
        frame = getattr(self, name)
        if frame is None:
            kind, key = TABLES[name]
            raise KeyError(f"chapter {kind.CHAPTER} has no results ({key}): run it first")
        return frame

    @property
    def cap(self) -> int:
        """The transfer runs' epoch cap (a run that never reached a threshold is censored there)."""
        return int(self.params["transfer_max_epochs"])

    @property
    def confidence(self) -> float:
        """The study's confidence level for every interval (``study.confidence``)."""
        return float(self.params["confidence"])

    @property
    def highest(self) -> float:
        """The highest test-accuracy threshold, e.g. 0.999."""
        return max(self.params["thresholds"])

    @property
    def top_threshold(self) -> str:
        """Column-name form of the highest threshold, e.g. '99.9%'."""
        return pct(self.highest)

    # -- sensitivity ----------------------------------------------------------------------------

    def nonconverged(self) -> tuple[RunId, ...]:
        """Runs that never reached the highest threshold on their own training task within the
        cap: transfer runs (first reached, test accuracy on the transfer task) and source runs
        that never grokked."""
        out = []
        if self.transfers is not None:
            column = epochs_column(FIRST, self.highest)
            for _, row in self.transfers.iterrows():
                if is_missing(row[column]):
                    out.append(RunId(row["condition"], int(row["seed"]),
                                     f"never reached {self.top_threshold} test accuracy on "
                                     f"{TASK_NOUN.get(self.params.get('transfer_task'), 'the transfer task')} within "
                                     f"{self.cap:,} epochs (final test accuracy {100 * row['final test acc']:.1f} %)"))
        if self.sources is not None:
            for _, row in self.sources.iterrows():
                if not bool(row["grokked"]):
                    out.append(RunId("source", int(row["seed"]), "the source run never grokked within its cap"))
        return tuple(out)

    def only_seeds(self, seeds) -> "Evidence":
        """These tables restricted to the runs of the given seeds (a claim about one seed)."""
        wanted = {int(s) for s in seeds}

        def keep(frame):
            if frame is None:
                return None
            return frame[[int(s) in wanted for s in frame["seed"]]].reset_index(drop=True)

        return replace(self, sources=keep(self.sources), transfers=keep(self.transfers),
                       retention=keep(self.retention), agreement=keep(self.agreement),
                       circuits=keep(self.circuits), dynamics=keep(self.dynamics), inside=keep(self.inside),
                       relearning=keep(self.relearning), controls=keep(self.controls))

    def without(self, runs) -> "Evidence":
        """These tables without the given runs: every row of a transfer run (its transfer, retention,
        circuit, dynamics, chapter 10, relearning and chapter 12 rows and the agreement pairs it is part of); for a source run, its
        source row and every model of its seed that started from it."""
        runs = tuple(runs)
        if not runs:
            return self
        drop = {(r.condition, r.seed) for r in runs}
        dropped_sources = {seed for condition, seed in drop if condition == "source"}

        def keep(frame, column):
            if frame is None:
                return None
            # A dropped source takes every model of its seed that started from it: not the random-init
            # transfer and not the random init itself.
            mask = [(c, int(s)) not in drop and not (int(s) in dropped_sources and c not in ("random", "random_init"))
                    for c, s in zip(frame[column], frame["seed"])]
            return frame[mask].reset_index(drop=True)

        agreement = self.agreement
        if agreement is not None:
            # Every pair holds at least one condition that started from the source.
            mask = [not ({(a, int(s)), (b, int(s))} & drop) and int(s) not in dropped_sources
                    for a, b, s in zip(agreement["model_a"], agreement["model_b"], agreement["seed"])]
            agreement = agreement[mask].reset_index(drop=True)
        sources = self.sources
        if sources is not None and dropped_sources:
            sources = sources[~sources["seed"].isin(dropped_sources)].reset_index(drop=True)
        return replace(self, sources=sources, transfers=keep(self.transfers, "condition"),
                       retention=keep(self.retention, "model"), agreement=agreement,
                       circuits=keep(self.circuits, "model"), dynamics=keep(self.dynamics, "condition"),
                       inside=keep(self.inside, "condition"), relearning=keep(self.relearning, "condition"),
                       controls=keep(self.controls, "condition"), excluded=self.excluded + runs)
