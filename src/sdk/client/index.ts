// `audithouse/client`: post audit events from any service (Node 18+, no dependencies beyond the
// platform's fetch) and read them back.
export { AuditClient, type AuditClientOptions } from './client.ts';
export type { BufferPolicy, DeliveryOptions, DeliveryStats } from './options.ts';
export { AuditDeliveryError, AuditHttpError, BufferFullError, type DeliveryErrorKind } from './errors.ts';
export type { FetchLike, TransportOptions } from './transport.ts';
export type * from './types.ts';
export { uuidv7 } from './uuid.ts';
