"""grokpaper: the package behind the reproducible paper on transfer from grokked transformers.

As a library: ``grokpaper.open_run(seed, condition, profile)`` reads a stored run (never
trains), ``grokpaper.to_hooked_transformer(params, cfg)`` exports weights to TransformerLens.
"""

import importlib

__version__ = "0.1.0"

# Imported on first use, so that `import grokpaper` (and the command line) stays light.
_LAZY = {
    "open_run": "grokpaper.core.study",
    "open_study": "grokpaper.core.study",
    "load_checkpoint": "grokpaper.core.model",
    "to_hooked_transformer": "grokpaper.core.hooked",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'grokpaper' has no attribute {name!r}")
