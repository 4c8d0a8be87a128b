#!/usr/bin/python3
"""W4 on Dask distributed: read the records as one string column, sort_values
(sampled range partitioning), write one CSV part per partition in order."""
import csv
import sys

import dask.dataframe as dd

from common import dask_cluster


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    with dask_cluster() as client:
        df = dd.read_csv(src, header=None, names=["line"], sep="\t",
                         quoting=csv.QUOTE_NONE, dtype=str, blocksize="64MiB")
        df = df.sort_values("line")
        df.to_csv(outdir + "/part-*", name_function=lambda i: "%05d" % i,
                  header=False, index=False, quoting=csv.QUOTE_NONE)
    print("R done")


if __name__ == "__main__":
    main()
