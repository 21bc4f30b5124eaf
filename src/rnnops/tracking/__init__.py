"""MLflow: stage runs, logged models, the raw-text pyfunc, the model registry."""
