// Signed checkpoints: every interval, each chain head of this process's stream that moved is
// signed (Ed25519, compact JWS) and stored; at shutdown every head is signed as `final`, which
// seals the stream. A checkpoint pins (seq, hash): rewriting history before it, or cutting the
// chain's tail off behind it, no longer verifies.
import { CompactSign, compactVerify, decodeProtectedHeader, errors as joseErrors } from 'jose';
import { toChTime } from '../event/model.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/client.ts';
import type { HashChain, StreamHead } from './chain.ts';
import type { IntegrityKeys, PublicKeyEntry } from './keys.ts';

export const CHECKPOINT_TYP = 'audithouse-checkpoint+jws';

export type CheckpointKind = 'head' | 'final';

export interface CheckpointPayload {
  v: 1;
  kind: CheckpointKind;
  tenant_id: string;
  stream: string;
  seq: number;
  hash: string;
  /** When it was signed, epoch ms. */
  at: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export async function signCheckpoint(signer: NonNullable<IntegrityKeys['signer']>, p: CheckpointPayload): Promise<string> {
  const payload = { at: p.at, hash: p.hash, kind: p.kind, seq: p.seq, stream: p.stream, tenant_id: p.tenant_id, v: p.v };
  return new CompactSign(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'EdDSA', kid: signer.kid, typ: CHECKPOINT_TYP })
    .sign(signer.key);
}

/** The payload of a checkpoint whose signature a trusted key verifies, or why it is not acceptable. */
export async function openCheckpoint(jws: string, trusted: ReadonlyMap<string, PublicKeyEntry>): Promise<{ ok: true; payload: CheckpointPayload } | { ok: false; reason: string }> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jws).kid;
  } catch {
    return { ok: false, reason: 'not a compact JWS' };
  }
  const key = kid === undefined ? undefined : trusted.get(kid);
  if (!key) return { ok: false, reason: `signed by a key that is not trusted (kid ${kid ?? 'missing'})` };
  try {
    const { payload, protectedHeader } = await compactVerify(jws, key.key, { algorithms: ['EdDSA'] });
    if (protectedHeader.typ !== CHECKPOINT_TYP) return { ok: false, reason: 'not a checkpoint (typ)' };
    const p = JSON.parse(decoder.decode(payload)) as CheckpointPayload;
    if (p.v !== 1 || typeof p.seq !== 'number' || typeof p.hash !== 'string' || (p.kind !== 'head' && p.kind !== 'final')) {
      return { ok: false, reason: 'unknown checkpoint payload' };
    }
    return { ok: true, payload: p };
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'signature does not verify' };
    return { ok: false, reason: 'malformed checkpoint' };
  }
}

export const CHECKPOINT_COLUMNS = ['tenant_id', 'stream', 'seq', 'hash', 'kind', 'created_at', 'jws'] as const;

export async function storeCheckpoints(store: Store, signer: NonNullable<IntegrityKeys['signer']>, heads: StreamHead[], kind: CheckpointKind, at = Date.now()): Promise<number> {
  if (heads.length === 0) return 0;
  const rows: unknown[][] = [];
  for (const h of heads) {
    const jws = await signCheckpoint(signer, { v: 1, kind, tenant_id: h.tenant_id, stream: h.stream, seq: h.seq, hash: h.hash, at });
    rows.push([h.tenant_id, h.stream, h.seq, h.hash, kind, toChTime(at), jws]);
  }
  await store.insertCompact('integrity_checkpoints', CHECKPOINT_COLUMNS, rows, 'checkpoint');
  return rows.length;
}

export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  /** Last signed seq per tenant of the current stream (a stream change resets it). */
  private signed = new Map<string, number>();
  private signedStream: string | undefined;
  private pendingRetired: StreamHead[] = [];

  constructor(
    private readonly store: Store,
    private readonly chain: HashChain,
    private readonly signer: NonNullable<IntegrityKeys['signer']>,
    private readonly intervalMs: number,
    private readonly log?: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.checkpoint(), this.intervalMs);
    this.timer.unref();
  }

  /** Signs the heads that moved since the last checkpoint. Never throws: a failure is retried next time. */
  checkpoint(kind: CheckpointKind = 'head'): Promise<number> {
    const run = this.running.then(() => this.checkpointNow(kind));
    this.running = run.catch(() => undefined);
    return run;
  }

  private async checkpointNow(kind: CheckpointKind): Promise<number> {
    this.pendingRetired.push(...this.chain.takeRetiredHeads());
    if (this.signedStream !== this.chain.stream) {
      this.signed = new Map();
      this.signedStream = this.chain.stream;
    }
    const heads = this.chain.currentHeads().filter((h) => kind === 'final' || (this.signed.get(h.tenant_id) ?? 0) < h.seq);
    const retired = this.pendingRetired;
    try {
      const n = await storeCheckpoints(this.store, this.signer, retired, 'head') + await storeCheckpoints(this.store, this.signer, heads, kind);
      this.pendingRetired = [];
      for (const h of heads) this.signed.set(h.tenant_id, h.seq);
      if (n > 0) this.log?.debug({ checkpoints: n, kind }, 'chain heads signed');
      return n;
    } catch (err) {
      this.log?.warn({ err }, 'storing checkpoints failed; retrying at the next interval');
      if (kind === 'final') throw err;
      return 0;
    }
  }

  /** Stops the timer and seals the stream with a final checkpoint of every head. Call after the writer is closed. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.chain.seal();
    await this.checkpoint('final');
  }
}
