#!/usr/bin/python3
"""W2 on Dask distributed (2 worker processes x 1 thread): TPC-H Q1 shape.
dd.read_csv of the needed columns (BLOCKSIZE bytes per partition), filter,
groupby-agg (tree reduction)."""
import sys

import dask.dataframe as dd
import pandas as pd

from common import LINEITEM_DTYPES, dask_cluster, print_q1, q1_frame

COLS = ["l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag",
        "l_linestatus", "l_shipdate"]


def main():
    path = sys.argv[1]
    blocksize = int(sys.argv[2]) if len(sys.argv) > 2 else 64 << 20
    with dask_cluster():
        df = dd.read_csv(path, usecols=COLS, blocksize=blocksize,
                         dtype={c: LINEITEM_DTYPES[c] for c in COLS if c != "l_shipdate"},
                         parse_dates=["l_shipdate"])
        df = df[df.l_shipdate <= pd.Timestamp("1998-09-02")]
        g = q1_frame(df).compute()
    print_q1(g)


if __name__ == "__main__":
    main()
