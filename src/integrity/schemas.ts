// What the integrity endpoints answer, as zod schemas: the single source of the response types
// (verify.ts and erasure.ts return z.infer of these) and of the OpenAPI document.
import { z } from '@hono/zod-openapi';
import { TenantIdSchema } from '../event/patterns.ts';

export const ChainBreakSchema = z.object({
  tenant_id: TenantIdSchema,
  stream: z.string(),
  seq: z.number().int().openapi({ description: 'Where the chain breaks (0: an event outside any chain)' }),
  kind: z.enum(['edited', 'deleted', 'reordered', 'inserted', 'truncated', 'bad-checkpoint']),
  detail: z.string(),
  // The event at that place, when there is one.
  event_id: z.string().optional(),
}).openapi('ChainBreak');

export const IntegrityReportSchema = z.object({
  ok: z.boolean().openapi({ description: 'true when every chain verified' }),
  tenant_id: TenantIdSchema.nullable(),
  since: z.string().nullable(),
  rows: z.number().int(),
  chains: z.number().int(),
  checkpoints: z.number().int(),
  cuts: z.number().int().openapi({ description: 'Retention cuts bridged' }),
  erased_rows: z.number().int(),
  // Not verifiable, and not a break either.
  legacy_rows: z.number().int().openapi({ description: 'Events stored before hash chains existed (not verifiable)' }),
  breaks: z.array(ChainBreakSchema).openapi({ description: 'The first break of each broken chain' }),
  // More chains broke than `breaks` lists.
  more_breaks: z.boolean(),
  duration_ms: z.number().int(),
  rows_per_second: z.number().int(),
}).openapi('IntegrityReport');

export const ErasureResultSchema = z.object({
  erasure_id: z.string().openapi({ description: 'Id of the audit.erasure event recording this erasure' }),
  tenant_id: TenantIdSchema,
  subject_ref: z.string().openapi({ description: 'Keyed pseudonym of the subject (the same for the same subject and tenant)' }),
  rows_erased: z.number().int(),
  as_actor: z.number().int(),
  as_resource: z.number().int(),
  as_mention: z.number().int(),
  aggregate_rows: z.number().int().openapi({ description: 'Rows of the per-user and per-resource aggregates that named the subject (now counted under "[ERASED]")' }),
  archives_rewritten: z.number().int().openapi({ description: 'Archives rewritten without the subject, each replaced by a new signed archive in the chain' }),
  archived_rows_erased: z.number().int(),
  restored_rows_erased: z.number().int().openapi({ description: 'Rows erased from audit_restored (archived events restored for investigation)' }),
}).openapi('ErasureResult');

export type ChainBreak = z.infer<typeof ChainBreakSchema>;
export type VerifyReport = z.infer<typeof IntegrityReportSchema>;
export type ErasureResult = z.infer<typeof ErasureResultSchema>;
