#!/usr/bin/python3
"""W5 on Dask distributed (2 worker processes x 1 thread): k-means over a
persisted dataframe.  dd.read_csv in PARTITIONS blocks, .persist(); each
iteration is one compute: every partition returns per-centroid sums and
counts (map_partitions), added on the client in partition order."""
import os
import sys

import dask
import dask.dataframe as dd
import numpy as np

from common import dask_cluster, kmeans_partial, kmeans_update, print_kmeans


def partial(df, cents):
    sx, sy, n = kmeans_partial(df.x.to_numpy(), df.y.to_numpy(), cents)
    return np.stack([sx, sy, n.astype("float64")])


def main():
    path = sys.argv[1]
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    iters = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    parts = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    blocksize = -(-os.path.getsize(path) // parts)
    with dask_cluster():
        df = dd.read_csv(path, blocksize=blocksize, dtype={"x": "float64", "y": "float64"})
        df = df.persist()
        first = df.head(k, npartitions=-1)
        cents = [(first.x.iloc[j], first.y.iloc[j]) for j in range(k)]
        n = [0] * k
        for _ in range(iters):
            blocks = [dask.delayed(partial)(p, cents) for p in df.to_delayed()]
            res = dask.compute(*blocks)
            sx, sy, cnt = np.zeros(k), np.zeros(k), np.zeros(k)
            for r in res:
                sx += r[0]
                sy += r[1]
                cnt += r[2]
            n = [int(c) for c in cnt]
            cents = kmeans_update(cents, sx, sy, n)
    print_kmeans(cents, n)


if __name__ == "__main__":
    main()
