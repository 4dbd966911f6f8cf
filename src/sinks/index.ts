// Starts a delivery loop per configured sink (AUDIT_SINKS_FILE) and reports their lag at scrape.
// Started by `serve` only, like the retention timer: CLI verbs never deliver.
import type { Services } from '../env.ts';
import type { SinkDefinition } from './config.ts';
import { SyslogTransport } from './syslog-transport.ts';
import { HttpTransport, type Transport } from './transport.ts';
import { SinkWorker } from './worker.ts';

export interface SinkRunner {
  workers: SinkWorker[];
  stop(): Promise<void>;
}

export function transportFor(def: SinkDefinition): Transport {
  return def.type === 'syslog' ? new SyslogTransport(def) : new HttpTransport(def);
}

export function startSinks(services: Pick<Services, 'config' | 'store' | 'metrics' | 'log'>, opts: { leaseWindowMs?: number; holder?: string } = {}): SinkRunner {
  const { config, store, metrics, log } = services;
  const workers = config.sinks.map((def) => new SinkWorker(def, { store, metrics, log, transport: transportFor(def), ...opts }));
  for (const w of workers) {
    // Series from 0, so rate() and increase() see the first delivery and the first failure.
    metrics.sinkDelivered.inc({ sink: w.def.name }, 0);
    for (const reason of ['network', 'http_5xx', 'http_429', 'rejected'] as const) metrics.sinkFailures.inc({ sink: w.def.name, reason }, 0);
  }
  // Only the replica delivering a sink knows its lag; the others export no series for it.
  metrics.onSinkLagScrape((gauge) => {
    gauge.reset();
    const now = Date.now();
    for (const w of workers) {
      if (w.holding) gauge.set({ sink: w.def.name }, w.oldestPending === undefined ? 0 : Math.max(0, (now - w.oldestPending) / 1000));
    }
  });
  for (const w of workers) w.start();
  return {
    workers,
    async stop() {
      metrics.onSinkLagScrape(undefined);
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}
