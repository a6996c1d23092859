import { Flags } from '@oclif/core';

/** Where a short job (ingest, batch, pipeline run) leaves its Prometheus metrics at exit. */
export const jobMetricsFlags = {
  'metrics-textfile': Flags.string({
    description:
      "Write this run's metrics to this .prom file (node_exporter textfile collector) [env: CRYPTOLAMBDA_METRICS_TEXTFILE].",
    helpGroup: 'METRICS',
  }),
  'metrics-pushgateway': Flags.string({
    description: "Push this run's metrics to this Pushgateway URL [env: CRYPTOLAMBDA_PUSHGATEWAY_URL].",
    helpGroup: 'METRICS',
  }),
};

export const jobSinkFlags = (f: {
  'metrics-textfile'?: string | undefined;
  'metrics-pushgateway'?: string | undefined;
}) => ({
  textfile: f['metrics-textfile'],
  pushgateway: f['metrics-pushgateway'],
});
