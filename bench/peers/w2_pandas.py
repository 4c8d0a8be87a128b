#!/usr/bin/python3
"""W2 on pandas (one process): TPC-H Q1 shape.  read_csv of the columns the
query needs (given dtypes, l_shipdate parsed as a date), filter, groupby-agg."""
import sys

import pandas as pd

from common import LINEITEM_DTYPES, print_q1, q1_frame

COLS = ["l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag",
        "l_linestatus", "l_shipdate"]


def main():
    df = pd.read_csv(sys.argv[1], usecols=COLS,
                     dtype={c: LINEITEM_DTYPES[c] for c in COLS if c != "l_shipdate"},
                     parse_dates=["l_shipdate"])
    df = df[df.l_shipdate <= pd.Timestamp("1998-09-02")]
    print_q1(q1_frame(df))


if __name__ == "__main__":
    main()
