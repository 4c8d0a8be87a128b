#!/usr/bin/python3
"""W3 on Dask distributed (2 worker processes x 1 thread): lineitem JOIN
orders ON l_orderkey = o_orderkey (dd.merge: Dask broadcasts a one-partition
side, otherwise hash-shuffles both), group by o_orderstatus:
sum(l_extendedprice), count."""
import sys

import dask.dataframe as dd

from common import LINEITEM_DTYPES, ORDERS_DTYPES, dask_cluster, print_w3


def main():
    blocksize = int(sys.argv[3]) if len(sys.argv) > 3 else 64 << 20
    with dask_cluster():
        li = dd.read_csv(sys.argv[1], usecols=["l_orderkey", "l_extendedprice"],
                         blocksize=blocksize,
                         dtype={c: LINEITEM_DTYPES[c] for c in ["l_orderkey", "l_extendedprice"]})
        o = dd.read_csv(sys.argv[2], usecols=["o_orderkey", "o_orderstatus"],
                        blocksize=blocksize,
                        dtype={c: ORDERS_DTYPES[c] for c in ["o_orderkey", "o_orderstatus"]})
        j = dd.merge(li, o, left_on="l_orderkey", right_on="o_orderkey", how="inner")
        g = j.groupby("o_orderstatus").agg({"l_extendedprice": ["sum", "count"]}).compute()
    print_w3(g)


if __name__ == "__main__":
    main()
