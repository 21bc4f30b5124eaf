"""One module per DVC stage: its logic, called by the thin `pipeline/<stage>.py` entry point."""
