"""The paper's logic: what each chapter computes and shows (tables, retention, circuits,
multi-seed statistics, dynamics, the original run, the family of tests, the claims audit,
the findings, figures), and the results handed to the article.

Reads the core and the analysis; knows nothing of the build."""
