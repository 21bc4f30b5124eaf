"""Data: sources (raw datasets), validation, splits, tokenizing, the prepared format, batches."""
