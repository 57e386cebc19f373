"""Evaluation: the interactive click loop and the harness (method x dataset x protocol x metrics)."""
