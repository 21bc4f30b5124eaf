"""The time-series forecasting task (rnnops.tasks): series sources, windows, classical peers, parts."""
