"""Shared by the Python peers: a Dask LocalCluster that is always closed."""
import contextlib
import logging
import os


@contextlib.contextmanager
def dask_cluster(workers=2, threads=1, memory="4GiB"):
    """2 worker processes x 1 thread, no dashboard; closed even on error
    (and bench/rsswatch kills whatever survives)."""
    from dask.distributed import Client, LocalCluster
    logging.getLogger("distributed").setLevel(logging.ERROR)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=threads,
                           processes=True, dashboard_address=None,
                           memory_limit=memory,
                           local_directory=os.environ.get("BENCH_TMP"))
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# ------------------------------------------------ TPC-H shaped data (W2, W3)

LINEITEM_COLS = ["l_orderkey", "l_partkey", "l_suppkey", "l_linenumber", "l_quantity",
                 "l_extendedprice", "l_discount", "l_tax", "l_returnflag",
                 "l_linestatus", "l_shipdate"]
LINEITEM_DTYPES = {"l_orderkey": "int64", "l_partkey": "int64", "l_suppkey": "int64",
                   "l_linenumber": "int32", "l_quantity": "int32",
                   "l_extendedprice": "float64", "l_discount": "float64",
                   "l_tax": "float64", "l_returnflag": "object", "l_linestatus": "object"}
ORDERS_DTYPES = {"o_orderkey": "int64", "o_custkey": "int64", "o_orderstatus": "object",
                 "o_totalprice": "float64"}


def q1_frame(df):
    """The Q1 aggregation on a (pandas or Dask) lineitem frame, already
    filtered: derived columns, one groupby, the columns renamed."""
    df = df.assign(disc_price=df.l_extendedprice * (1 - df.l_discount))
    df = df.assign(charge=df.disc_price * (1 + df.l_tax))
    g = df.groupby(["l_returnflag", "l_linestatus"]).agg({
        "l_quantity": ["sum", "mean"], "l_extendedprice": ["sum", "mean"],
        "disc_price": ["sum"], "charge": ["sum"], "l_discount": ["mean", "count"]})
    return g


def print_q1(g):
    """R FLAG STATUS sums(%.2f) averages(%.4f) count, in key order."""
    g = g.sort_index()
    for (rf, ls), r in g.iterrows():
        print("R %s %s %.2f %.2f %.2f %.2f %.4f %.4f %.4f %d" % (
            rf, ls, r[("l_quantity", "sum")], r[("l_extendedprice", "sum")],
            r[("disc_price", "sum")], r[("charge", "sum")], r[("l_quantity", "mean")],
            r[("l_extendedprice", "mean")], r[("l_discount", "mean")],
            r[("l_discount", "count")]))


def print_w3(g):
    """R STATUS SUM(%.2f) COUNT, in status order."""
    g = g.sort_index()
    for st, r in g.iterrows():
        print("R %s %.2f %d" % (st, r[("l_extendedprice", "sum")],
                                r[("l_extendedprice", "count")]))


# ------------------------------------------------ k-means (W5)

def kmeans_partial(x, y, cents):
    """Per-partition step: assign each point to the nearest centroid (dx*dx +
    dy*dy, the lowest index on ties) and return per-centroid sums and counts."""
    import numpy as np
    k = len(cents)
    cx = np.array([c[0] for c in cents])
    cy = np.array([c[1] for c in cents])
    dx = x[:, None] - cx[None, :]
    dy = y[:, None] - cy[None, :]
    lab = (dx * dx + dy * dy).argmin(axis=1)
    return (np.bincount(lab, weights=x, minlength=k), np.bincount(lab, weights=y, minlength=k),
            np.bincount(lab, minlength=k))


def kmeans_update(cents, sx, sy, n):
    """New centroids: the means; a centroid with no points stays."""
    return [(sx[j] / n[j], sy[j] / n[j]) if n[j] > 0 else cents[j] for j in range(len(cents))]


def print_kmeans(cents, n):
    """R X Y N, sorted by (x, y), X and Y with %.3f."""
    for j in sorted(range(len(cents)), key=lambda j: (cents[j][0], cents[j][1])):
        print("R %.3f %.3f %d" % (cents[j][0], cents[j][1], n[j]))
