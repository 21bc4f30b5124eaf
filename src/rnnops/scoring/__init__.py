"""Scoring: classification metrics and ensembles, from class probabilities."""
