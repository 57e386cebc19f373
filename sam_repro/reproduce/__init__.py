"""Batch reproduction: papermill runner, run profiles, paper-vs-ours tables."""
