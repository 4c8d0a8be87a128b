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
