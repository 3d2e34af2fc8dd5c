"""What the design document states about its own setup: the facts its claims are checked
against for consistency (``grokpaper.paper.audit.consistency``) and that the article cites
when it describes the document. Claims to test are in ``claims.yaml``; these are the setup it
says it used."""

from __future__ import annotations

DOC_SEEDS = (42, 7, 99, 314, 123)
DOC_EPOCH_BUDGET = 10_000
DOC_P = 113
DOC_METHOD_UNITS = 128   # "For each neuron d in {1, ..., 128}" of W_E / W_U
