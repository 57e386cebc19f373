"""Datasets: the manifest of real datasets, their loaders, and the synthetic task families."""
from sam_repro.data.catalog import (CatalogEntry, SampleSet, entries, get_entry, open_dataset, open_evaluation_set,
                                    register)
from sam_repro.data.sample import IGNORE_INDEX, Sample

__all__ = ["CatalogEntry", "IGNORE_INDEX", "Sample", "SampleSet", "entries", "get_entry", "open_dataset",
           "open_evaluation_set", "register"]
