"""modelmedic: diagnose and fix a machine-learning model in production.

The package is importable without side effects; heavy libraries (evidently, mlflow,
scikit-learn) are imported inside the functions that need them.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
