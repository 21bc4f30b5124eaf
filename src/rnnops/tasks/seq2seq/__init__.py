"""The sequence-to-sequence task (rnnops.tasks): source texts -> target texts, dates by default."""
