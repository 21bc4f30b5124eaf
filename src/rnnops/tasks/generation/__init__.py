"""The text generation task (rnnops.tasks): language models, sampling, the n-gram peer."""
