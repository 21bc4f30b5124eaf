"""The regression task (rnnops.tasks): tables and texts -> a number; peers, K-fold, parts."""
