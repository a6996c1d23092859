"""One date of the cryptolambda batch layer on many workers (issue 16).

Airflow's dynamic task mapping expands `build_shard` into one task instance per shard (map_index
0..N-1), each running `batch --date D --shard i/N` on a worker that sees the shared lake directory;
`publish` runs once every shard succeeded and commits them all in one atomic ledger write. A failed
shard is retried alone (re-running a shard replaces it); publish refuses a missing or stale shard.

Set the Airflow Variables `cryptolambda_dir` (a checkout with `npm ci && npm run build`),
`cryptolambda_lake_dir` (shared by the workers) and `cryptolambda_shards` (at most the user topics'
partition count). Needs Airflow >= 2.4 (dynamic task mapping with expand_kwargs / partial).
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.models import Variable
from airflow.operators.bash import BashOperator

CLI = "cd {{ var.value.cryptolambda_dir }} && node bin/run.js"
# NODE_OPTIONS: larger V8 semi-spaces cut a shard's garbage-collection CPU (docs/warehouse.md).
ENV = {
    "CRYPTOLAMBDA_LAKE_DIR": "{{ var.value.cryptolambda_lake_dir }}",
    "NO_COLOR": "1",
    "NODE_OPTIONS": "--max-semi-space-size=64",
}

with DAG(
    dag_id="cryptolambda_batch",
    schedule="30 0 * * *",  # after midnight UTC; `pipeline` has a sensor for late data
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one publish per lake at a time (publish also holds the batch lock)
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=2)},
    tags=["cryptolambda", "batch"],
) as dag:
    shards = int(Variable.get("cryptolambda_shards", default_var="4"))

    # One mapped task per shard; the date is the run's logical date (the day being closed).
    build_shard = BashOperator.partial(
        task_id="build_shard",
        env=ENV,
        append_env=True,
    ).expand(
        bash_command=[
            f'{CLI} batch --date {{{{ ds }}}} --shard {i}/{shards} --json' for i in range(shards)
        ]
    )

    publish = BashOperator(
        task_id="publish",
        bash_command=f"{CLI} batch publish --date {{{{ ds }}}} --json",
        env=ENV,
        append_env=True,
    )

    build_shard >> publish
