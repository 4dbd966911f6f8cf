// The event as a caller posts it (contract: snake_case fields), with every rule a value must
// meet. The zod schema is the validator, the TypeScript type and the OpenAPI doc at once.
import { z } from '@hono/zod-openapi';
import { credentialIn } from './credentials.ts';
import { OutcomeSchema, SeveritySchema } from './model.ts';
import {
  ACTIVITY_TYPE_RE, isRealIsoDate, isReservedActivityType, RESERVED_ACTIVITY_PREFIX, TENANT_ID_RULE, TenantIdSchema, UUID_RE,
  ZONED_ISO_RE,
} from './patterns.ts';

const RESERVED_MESSAGE = `is in the reserved "${RESERVED_ACTIVITY_PREFIX}" namespace: only the service records audit.* events (audit.accessed, audit.erasure, ...)`;

// No NUL or other C0 control characters (tab, LF, CR allowed in free text only).
const noControl = (s: string) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s);
// Bidirectional overrides and isolates (Trojan-Source style spoofing in tables and CSV).
const BIDI_RE = /[\u202A-\u202E\u2066-\u2069]/;
const label = (max: number) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`)
    .refine((s) => noControl(s) && !/[\r\n\t]/.test(s), 'must not contain control characters')
    .refine((s) => !BIDI_RE.test(s), 'must not contain bidirectional override characters');

/**
 * An identifier (user, resource, address, user agent) holding a credential or a card number is
 * refused, not redacted: "[REDACTED]" would no longer identify anything, and ids are what
 * dashboards group by and erasure looks up.
 */
const identifier = (max: number) => label(max).superRefine((v, ctx) => {
  const found = credentialIn(v);
  if (found) ctx.addIssue({ code: 'custom', message: `holds ${found}; identifiers must not carry secrets (the value is refused, not stored redacted)` });
});

/** The event object; `reserved`: whether the service's own audit.* namespace is allowed. */
function eventInput(reserved: boolean) {
  let activityType = z.string().max(128, 'must be at most 128 characters')
    .regex(ACTIVITY_TYPE_RE, 'must be dotted lowercase, e.g. user.login');
  if (!reserved) activityType = activityType.refine((t) => !isReservedActivityType(t), RESERVED_MESSAGE);
  return z.strictObject({
    id: z.string().regex(UUID_RE, 'must be a UUID').optional()
      .openapi({ description: 'Idempotency key: the same id posted twice is stored once', example: '0192f0c1-6c2e-7cc0-8a1e-3f5b1d2c4e5f' }),
    timestamp: z.string().regex(ZONED_ISO_RE, 'must be an ISO-8601 date-time with a zone, e.g. 2026-01-31T12:00:00.000Z')
      .refine(isRealIsoDate, 'is not a valid calendar date and time')
      .optional()
      .openapi({ description: 'When it happened (UTC, millisecond precision); not before 1970, at most 5 minutes ahead. Default: receipt time.', format: 'date-time' }),
    activity_type: activityType.openapi({
      example: 'file.uploaded',
      description: `Dotted lowercase. The "${RESERVED_ACTIVITY_PREFIX}" namespace belongs to the service and is refused (422).`,
      pattern: `^(?!audit\\.)${ACTIVITY_TYPE_RE.source.slice(1)}`,
    }),
    severity: SeveritySchema.default('LOW'),
    action: label(128).openapi({ example: 'file_upload' }),
    description: z.string().max(16_384, 'must be at most 16384 characters')
      .refine(noControl, 'must not contain control characters other than tab and newline').optional(),
    outcome: OutcomeSchema.default('success'),
    user_id: identifier(256).optional().openapi({ description: "Default: the token's sub. A value holding a credential or card number is refused." }),
    tenant_id: TenantIdSchema.optional().openapi({ description: `Default: the token's tenant_id; only audit:admin may name another. ${TENANT_ID_RULE}.` }),
    resource_type: label(128).optional(),
    resource_id: identifier(512).optional().openapi({ description: 'A value holding a credential or card number is refused.' }),
    ip_address: identifier(64).optional().openapi({ description: 'Default: the client address of the HTTP request' }),
    user_agent: identifier(1024).optional().openapi({ description: 'Default: the User-Agent of the HTTP request' }),
    request_id: label(128).optional().openapi({ description: 'Default: the X-Request-Id of the HTTP request' }),
    details: z.record(z.string(), z.unknown()).optional()
      .openapi({ description: 'Free-form JSON object; sensitive keys are redacted before storage', example: { filename: 'q3.pdf', size: 52133 } }),
  });
}

/** An event as a caller posts it (every external ingest path): audit.* refused. */
export const AuditEventInput = eventInput(false).openapi('AuditEventInput');
/**
 * The service's own events (the access log's audit.accessed): the same rules, the reserved
 * namespace allowed. Never wired to a request body.
 */
export const ServiceEventInput = eventInput(true);

export type AuditEventInput = z.infer<typeof AuditEventInput>;
