"""The paper's builder: the chapter runner and the report build, above everything else.

- plan.py: which chapters are stale and why; the build check
- runner.py: executes the stale chapters (papermill) and publishes their results
- manuscript.py, freeze.py: the article's sources; its frozen execution and when it is stale
- render.py: the report build (`quarto render`, or offline.py where Quarto is missing)
- offline.py, offline_assets/: the offline Quarto substitute (pandoc, typst: the ``offline`` extra)

Named builder, not build: tools treat folders named build/ as build output and skip them
(ruff's default exclude, the usual Python .gitignore).
"""
