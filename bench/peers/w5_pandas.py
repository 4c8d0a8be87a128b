#!/usr/bin/python3
"""W5 on pandas/numpy (one process): k-means on the points, in memory, with
the same steps as ember's (initial centroids: the first K points; nearest by
dx*dx + dy*dy, lowest index on ties; a centroid with no points stays)."""
import sys

import pandas as pd

from common import kmeans_partial, kmeans_update, print_kmeans


def main():
    path = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    df = pd.read_csv(path, dtype={"x": "float64", "y": "float64"})
    x, y = df.x.to_numpy(), df.y.to_numpy()
    cents = [(x[j], y[j]) for j in range(k)]
    n = [0] * k
    for _ in range(iters):
        sx, sy, n = kmeans_partial(x, y, cents)
        cents = kmeans_update(cents, sx, sy, n)
    print_kmeans(cents, n)


if __name__ == "__main__":
    main()
