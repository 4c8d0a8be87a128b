#!/usr/bin/python3
"""W3 on pandas (one process): lineitem JOIN orders ON l_orderkey =
o_orderkey, group by o_orderstatus: sum(l_extendedprice), count."""
import sys

import pandas as pd

from common import LINEITEM_DTYPES, ORDERS_DTYPES, print_w3


def main():
    li = pd.read_csv(sys.argv[1], usecols=["l_orderkey", "l_extendedprice"],
                     dtype={c: LINEITEM_DTYPES[c] for c in ["l_orderkey", "l_extendedprice"]})
    o = pd.read_csv(sys.argv[2], usecols=["o_orderkey", "o_orderstatus"],
                    dtype={c: ORDERS_DTYPES[c] for c in ["o_orderkey", "o_orderstatus"]})
    j = li.merge(o, left_on="l_orderkey", right_on="o_orderkey", how="inner")
    print_w3(j.groupby("o_orderstatus").agg({"l_extendedprice": ["sum", "count"]}))


if __name__ == "__main__":
    main()
