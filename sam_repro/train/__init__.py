"""Training code: shared utilities and one module per model the package trains."""
