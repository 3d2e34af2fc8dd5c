"""A made-up study of five seeds and four conditions, as per-run tables (``Evidence``), for the
tests of the audit and the statistics family."""

import dataclasses

import pandas as pd

from grokpaper.paper.evidence import Evidence

CAP = 30_000


def study(random_314=None, memorized_fixed=True) -> Evidence:
    """Made-up per-run tables of 5 seeds: grokked fast, memorized slower, random slowest; random seed
    314 reaches at ``random_314`` (None: never, with 0.6 % test accuracy at the cap)."""
    seeds = [42, 7, 99, 314, 123]
    epochs = {"grokked": [1980, 480, 430, 380, 550], "memorized": [9190, 5680, 7650, 3650, 10990],
              "memorized-fixed": [6000, 5500, 7000, 6500, 5800], "random": [21810, 17170, 17800, random_314, 22450]}
    if not memorized_fixed:
        del epochs["memorized-fixed"]
    acc100 = {"grokked": 0.28, "memorized": 0.003, "memorized-fixed": 0.01, "random": 0.0008}
    rows, retention, circuits = [], [], []
    for c, values in epochs.items():
        for i, (s, v) in enumerate(zip(seeds, values)):
            converged = v is not None
            rows.append({"seed": s, "condition": c, "first 99.9%": v, "sustained 99.9%": v,
                         "test acc at 100": acc100[c] * (1 + 0.05 * i), "final test acc": 1.0 if converged else 0.006,
                         "final train acc": 1.0})
            retention.append({"seed": s, "model": c, "role": "transfer", "source_acc_test": 0.0085 if converged else 0.005,
                              "source_excess_test": 0.0 if converged else -0.003,
                              "source_acc_distinct_test": 0.0 if converged else 0.004,
                              "transfer_acc_test": 1.0 if converged else 0.006})
            circuits.append({"seed": s, "model": c, "mean frac": 0.85 + 0.02 * i if c == "grokked" else 0.93 + 0.005 * i,
                             "key freqs": "3 9 20", "distinct freqs >= min": 3, "n > 0.5": 450, "top freq": 9 + i,
                             "shared with source": 3, "jaccard": 0.8})
    for s in seeds:
        circuits.append({"seed": s, "model": "grokked_source", "mean frac": 0.7, "key freqs": "3 9 20 30",
                         "distinct freqs >= min": 4, "n > 0.5": 300, "top freq": 9, "shared with source": None,
                         "jaccard": None})
    params = {"p": 113, "thresholds": [0.9, 0.999], "transfer_max_epochs": CAP, "grokked_max_epochs": 50_000,
              "source_task": "add", "transfer_task": "subtract", "d_mlp": 512, "confidence": 0.95,
              "n_permutations": 2000}
    return Evidence(transfers=pd.DataFrame(rows), retention=pd.DataFrame(retention), circuits=pd.DataFrame(circuits),
                    params=params)


def with_relearning(ev: Evidence, random=(900, 1000, None, 800, 950)) -> Evidence:
    """``ev`` with a relearning table (chapter 11): each condition's epochs to 95 % when trained back
    on the source task (None: never, by the relearning cap of 5,000; random seed 99 by default), and
    each seed's first learning of it (the source run, about 10,000 epochs)."""
    seeds = [42, 7, 99, 314, 123]
    epochs = {"grokked": (100, 150, 120, 140, 110), "memorized": (130, 160, 150, 170, 120),
              "memorized-fixed": (110, 140, 160, 120, 130), "random": random}
    rows = [{"seed": s, "condition": c, "first 95%": v} for c, values in epochs.items() for s, v in zip(seeds, values)]
    rows += [{"seed": s, "condition": "first learning", "first 95%": 10_000 + 100 * i} for i, s in enumerate(seeds)]
    return dataclasses.replace(ev, relearning=pd.DataFrame(rows),
                               params={**ev.params, "thresholds": [0.95, 0.999], "relearn_max_epochs": 5_000})


def with_controls(ev: Evidence, permuted=(None, 25_000, None, None, 23_000)) -> Evidence:
    """``ev`` with chapter 12's table: its transfer rows and each control's epochs to 99.9 % (None:
    never, by the cap; the permuted control's seeds 42, 99 and 314 by default)."""
    seeds = [42, 7, 99, 314, 123]
    epochs = {"norm-matched": (22_000, 11_000, 14_000, 23_000, 13_700), "permuted": permuted,
              "embeddings-only": (170, 1380, 140, 200, 160), "all-but-embeddings": (None,) * 5,
              "frozen-embeddings": (2580, 1560, 440, 410, 680)}
    rows = [{"seed": s, "condition": c, "first 99.9%": v, "sustained 99.9%": v}
            for c, values in epochs.items() for s, v in zip(seeds, values)]
    table = pd.concat([ev.transfers[["seed", "condition", "first 99.9%", "sustained 99.9%"]], pd.DataFrame(rows)],
                      ignore_index=True)
    return dataclasses.replace(ev, controls=table)
