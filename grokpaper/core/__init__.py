"""The research library: tasks and data, the reference model and its fast batched path, the
trainer, the run store, the study's conditions, and the export to TransformerLens.

Imports nothing from the layers above it (analysis, paper, build)."""
