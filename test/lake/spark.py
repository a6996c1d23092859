"""Read the cryptolambda lake in Spark local[2] through sql/hive_ddl.sql and print, per table, the
row count, the sum of every DECIMAL column (as exact text) and the min/max of every TIMESTAMP
column in epoch microseconds: test/lake/spark.int.test.ts compares them with DuckDB's.

usage: spark.py <lake dir> <hive_ddl.sql> <scratch dir>
"""
import json
import sys
from decimal import Decimal

from pyspark.sql import SparkSession

lake, ddl_file, scratch = sys.argv[1:4]
spark = (
    SparkSession.builder.master("local[2]")
    .appName("cryptolambda-lake-check")
    .config("spark.sql.session.timeZone", "UTC")
    .config("spark.sql.warehouse.dir", f"{scratch}/spark-warehouse")
    .config("spark.driver.memory", "1g")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "2")
    .config("javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={scratch}/metastore;create=true")
    .enableHiveSupport()
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")

ddl = open(ddl_file).read().replace("${LAKE}", f"file://{lake}")
lines = [l for l in ddl.splitlines() if not l.strip().startswith("--")]
for stmt in "\n".join(lines).split(";"):
    if stmt.strip():
        spark.sql(stmt)

out = {}
for row in spark.sql("SHOW TABLES IN cryptolambda").collect():
    name = row.tableName
    df = spark.table(f"cryptolambda.{name}")
    aggs = ["count(*) AS n"]
    for f in df.schema.fields:
        t = f.dataType.simpleString()
        if t.startswith("decimal"):
            aggs.append(f"sum(`{f.name}`) AS `sum:{f.name}`")
        elif t == "timestamp":
            aggs.append(f"min(unix_micros(`{f.name}`)) AS `min:{f.name}`")
            aggs.append(f"max(unix_micros(`{f.name}`)) AS `max:{f.name}`")
    r = spark.sql(f"SELECT {', '.join(aggs)} FROM cryptolambda.{name}").collect()[0].asDict()
    # Python Decimals printed positionally ('f'): Java's toString would give 0E-18 for zero.
    out[name] = {k: (None if v is None else format(v, "f") if isinstance(v, Decimal) else str(v)) for k, v in r.items()}
    out[name]["n"] = str(r["n"])
print("RESULT " + json.dumps(out, sort_keys=True))
spark.stop()
