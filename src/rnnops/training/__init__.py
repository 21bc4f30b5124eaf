"""Training: the one fit loop, its callbacks, and the Optuna study mechanics."""
