"""rnnops: a tracked MLOps pipeline for recurrent text classifiers.

Importing the package is cheap on purpose: TensorFlow and MLflow are imported only by the
modules that need them, so params validation answers before any heavy import.
"""
__version__ = "0.1.0"

import os as _os

# TensorFlow's C++ start-up banners are noise in stage logs; a user's own setting wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
