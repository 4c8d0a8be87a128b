#!/usr/bin/python3
"""W4 on pandas (one process): read, sort_values, to_csv."""
import csv
import os
import sys

import pandas as pd


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    df = pd.read_csv(src, header=None, names=["line"], sep="\t",
                     quoting=csv.QUOTE_NONE, dtype=str)
    df = df.sort_values("line")
    os.makedirs(outdir, exist_ok=True)
    df.to_csv(outdir + "/part-00000", header=False, index=False,
              quoting=csv.QUOTE_NONE)
    print("R done")


if __name__ == "__main__":
    main()
