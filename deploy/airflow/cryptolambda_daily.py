"""The cryptolambda daily DAG for Apache Airflow: one BashOperator task per pipeline step.

    sensor >> ingest >> batch >> dq >> reconcile >> retire

Each task runs `cryptolambda pipeline step <step> --date {{ ds }}`, which shares the run ledger,
the lock and the exit codes with `cryptolambda pipeline run`: exit 0 = the step succeeded (or had
already succeeded for the date: a cleared task is a no-op unless --force is in CRYPTOLAMBDA_STEP_ARGS),
7 = it failed or a dependency has not succeeded in the ledger; anything else non-zero is a usage or
connection error. Airflow's own retries sit on top of the step's in-process retries.

`ds` is the start of the data interval, i.e. the business day the run covers: the run of
2026-11-24 starts after that day has ended, and the sensor then waits until the speed layer's
watermark has passed the end of the day plus the allowed lateness.

Configuration comes from the worker's environment (CRYPTOLAMBDA_KAFKA_BROKERS, CRYPTOLAMBDA_REDIS_URL,
CRYPTOLAMBDA_LAKE_DIR, TLS/SASL settings, ...), never from the DAG file, so no secret is stored here.
CRYPTOLAMBDA_BIN names the CLI (default: `cryptolambda` on PATH).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator

STEPS = ["sensor", "ingest", "batch", "dq", "reconcile", "retire"]

# Per step: Airflow retries and an execution timeout. The sensor waits in-process up to its
# --sensor-timeout; Airflow retries it a few times so a late stream delays the run instead of failing it.
POLICY = {
    "sensor": {"retries": 6, "retry_delay": timedelta(minutes=10), "execution_timeout": timedelta(minutes=40),
               "args": "--sensor-timeout 30m"},
    "ingest": {"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=2)},
    "batch": {"retries": 2, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=4)},
    "dq": {"retries": 0, "execution_timeout": timedelta(minutes=30)},
    "reconcile": {"retries": 1, "retry_delay": timedelta(minutes=5), "execution_timeout": timedelta(hours=1)},
    "retire": {"retries": 2, "retry_delay": timedelta(minutes=2), "execution_timeout": timedelta(minutes=30)},
}

BIN = os.environ.get("CRYPTOLAMBDA_BIN", "cryptolambda")
EXTRA = os.environ.get("CRYPTOLAMBDA_STEP_ARGS", "")

with DAG(
    dag_id="cryptolambda_daily",
    description="cryptolambda batch layer: sensor, ingest, batch, data-quality gate, reconcile, retire",
    schedule="15 0 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # the pipeline lock serialises dates anyway; queueing here is clearer
    default_args={"owner": "data-platform", "depends_on_past": False},
    tags=["cryptolambda"],
) as dag:
    tasks = {}
    for step in STEPS:
        p = POLICY[step]
        tasks[step] = BashOperator(
            task_id=step,
            bash_command=f"{BIN} pipeline step {step} --date {{{{ ds }}}} {p.get('args', '')} {EXTRA}".strip(),
            env={"NO_COLOR": "1"},
            append_env=True,  # the worker's CRYPTOLAMBDA_* settings reach the CLI
            retries=p["retries"],
            **({"retry_delay": p["retry_delay"]} if "retry_delay" in p else {}),
            execution_timeout=p["execution_timeout"],
        )
    for upstream, downstream in zip(STEPS, STEPS[1:]):
        tasks[upstream] >> tasks[downstream]
