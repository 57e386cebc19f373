"""Generation time of every synthetic family (milliseconds per sample, single process).

Prints, per family, the image size, the mean number of masks, wall-clock ms/sample (mean and
median) and CPU ms/sample, and checks the two budgets the tiny-SAM training relies on: the generic
pool at 256 px within 5 ms/sample and the DIS-like family at 1024 px within 200 ms/sample (median
wall time; CPU time is also shown because a shared machine inflates wall time).

    python benchmarks/bench_synthetic.py                 # 30 samples per family (8 for synthetic/thin)
    python benchmarks/bench_synthetic.py --n 100 --families synthetic/generic
"""
from __future__ import annotations

import argparse
import statistics
import time

import cv2

from sam_repro.data import open_dataset
from sam_repro.data.synthetic import family_names

#: family -> median wall ms/sample budget at the default size.
BUDGETS_MS = {"synthetic/generic": 5.0, "synthetic/thin": 200.0}


def bench(name: str, n: int, split: str, seed: int, size: int | None) -> dict:
    """Time ``n`` samples of one family; returns a row of the table."""
    params = {"seed": seed} if size is None else {"seed": seed, "size": size}
    dataset = open_dataset(name, split, **params)
    walls, masks = [], 0
    cpu0 = time.process_time()
    for index in range(n):
        start = time.perf_counter()
        sample = dataset[index % len(dataset)]
        walls.append((time.perf_counter() - start) * 1000.0)
        masks += 0 if sample.masks is None else len(sample.masks)
    cpu = (time.process_time() - cpu0) * 1000.0 / n
    return {
        "name": name,
        "size": "x".join(map(str, dataset.size)),
        "k": masks / n,
        "mean": statistics.fmean(walls),
        "median": statistics.median(walls),
        "cpu": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="samples per family")
    parser.add_argument("--n-thin", type=int, default=8, help="samples for synthetic/thin (1024 px)")
    parser.add_argument("--families", nargs="*", default=None, help="catalog names (default: all synthetic)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=None, help="override every family's size")
    parser.add_argument("--cv2-threads", type=int, default=1, help="cv2.setNumThreads (-1: leave OpenCV's default)")
    args = parser.parse_args()
    if args.cv2_threads >= 0:
        cv2.setNumThreads(args.cv2_threads)

    names = args.families or family_names()
    open_dataset("synthetic/generic", "test")[0]  # warm-up: builds the cached noise tile once
    print(f"OpenCV threads: {cv2.getNumThreads()}")
    print(f"{'family':24s} {'size':>10s} {'K':>5s} {'mean ms':>8s} {'median':>8s} {'cpu ms':>8s}  budget")
    for name in names:
        n = args.n_thin if name == "synthetic/thin" else args.n
        row = bench(name, n, args.split, args.seed, args.size)
        budget = BUDGETS_MS.get(name) if args.size is None else None
        verdict = "" if budget is None else (f"<= {budget:g} ok" if row["median"] <= budget else f"> {budget:g} SLOW")
        print(f"{row['name']:24s} {row['size']:>10s} {row['k']:5.1f} {row['mean']:8.1f} {row['median']:8.1f} "
              f"{row['cpu']:8.1f}  {verdict}")


if __name__ == "__main__":
    main()
