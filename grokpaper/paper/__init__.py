"""The paper's logic: what each chapter computes and shows (tables, retention, circuits,
multi-seed statistics, dynamics, the original run, the family of tests, the claims audit,
figures), the results contract (the typed numbers handed to the article), and the values
and guards of the article's sentences.

Reads the core and the analysis; knows nothing of the build."""
