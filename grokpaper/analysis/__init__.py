"""Analysis of trained models and their runs: circuits (Fourier, progress measures, inspection
of one model), learning curves, statistics and time to threshold.

Reads the core; knows nothing of the paper or its build."""
