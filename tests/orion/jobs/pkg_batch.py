"""Batch test job: its executors call a function of a package shipped beside it (the --py-files zip)."""

import argparse

from orion_testpkg import triple
from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10)
    opts = parser.parse_args()
    spark = SparkSession.builder.appName("pkg_batch").getOrCreate()
    # The lambda refers to orion_testpkg.rules.triple: each executor's Python must import the package.
    total = spark.sparkContext.parallelize(range(opts.rows), 2).map(lambda x: triple(x)).sum()
    where = spark.sparkContext.parallelize([0], 1).map(lambda _: __import__("orion_testpkg").__file__).first()
    print(f"pkg_batch: sum {total} from {where}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
