// audit_storage_size_bytes: bytes on disk of the active parts of every table in our database,
// from system.parts. Refreshed on a timer by the service and after every retention run.
import type { Metrics } from '../metrics.ts';
import type { Store } from '../store/client.ts';

export async function refreshStorageSize(store: Store, metrics: Metrics): Promise<number> {
  const rows = await store.query<{ bytes: string | number }>(
    `SELECT sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = {db:String} AND active`,
    { db: store.database },
    'storage_size',
  );
  const bytes = Number(rows[0]?.bytes ?? 0);
  metrics.storageSize.set(bytes);
  return bytes;
}
