#!/usr/bin/python3
"""W1 on pandas (one process): read the lines in chunks, split on whitespace
(the corpus has only lowercase letters, spaces and newlines, so this is the
runs of letters), explode, value_counts, and add the chunks' counts."""
import csv
import sys

import pandas as pd


def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 20
    total = None
    for chunk in pd.read_csv(path, header=None, names=["line"], sep="\t",
                             quoting=csv.QUOTE_NONE, dtype=str,
                             chunksize=1_000_000):
        vc = chunk["line"].str.split().explode().value_counts()
        total = vc if total is None else total.add(vc, fill_value=0)
    df = total.astype("int64").rename_axis("word").reset_index(name="n")
    df = df.sort_values(["n", "word"], ascending=[False, True])
    print("R distinct", len(df))
    for w, c in zip(df["word"][:top], df["n"][:top]):
        print("R", c, w)


if __name__ == "__main__":
    main()
