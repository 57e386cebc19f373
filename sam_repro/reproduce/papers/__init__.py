"""One module per paper: its stand-in datasets, how our rows map onto its tables, its experiments
and its claims (as checks over our result rows)."""
