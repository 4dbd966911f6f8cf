// The syslog sink's connection: tcp:// or tls://, RFC 6587 octet-counted RFC 5424 messages.
// Plain syslog has no acknowledgement, so "delivered" can only mean "written to a connection
// that then stayed up": the last batch written is kept, and if the connection turns out broken
// (closed, reset) before the next batch, or while the sink is idle, that batch is written again
// on a new connection.
// The receiver dedupes on the event id (CEF externalId, the JSON's id).
import net from 'node:net';
import tls from 'node:tls';
import type { AuditEvent } from '../event/model.ts';
import type { SinkDefinition } from './config.ts';
import { octetFrame, toSyslog5424 } from './syslog-format.ts';
import { DeliveryError, networkMessage, type Transport } from './transport.ts';

export class SyslogTransport implements Transport {
  private socket: net.Socket | undefined;
  /** The connection closed or failed since the last write: what was written last may be lost. */
  private broken = false;
  private lastWritten: Buffer | undefined;

  constructor(private readonly def: SinkDefinition) {}

  private connect(): Promise<net.Socket> {
    const { hostname, port } = this.def.url;
    const host = hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        socket.destroy();
        reject(new DeliveryError('network', `connecting to the syslog receiver failed: ${networkMessage(err)}`));
      };
      const socket = this.def.url.protocol === 'tls:'
        ? tls.connect({ host, port: Number(port), servername: net.isIP(host) ? undefined : host, ...(this.def.tls.ca ? { ca: this.def.tls.ca } : {}), rejectUnauthorized: !this.def.tls.insecure }, () => done())
        : net.connect({ host, port: Number(port) }, () => done());
      const done = () => {
        socket.off('error', onError);
        socket.setTimeout(0); // the timeout guards the connect only: a quiet connection is fine
        socket.setKeepAlive(true, 10_000);
        socket.on('error', () => {
          this.broken = true;
        });
        socket.on('close', () => {
          this.broken = true;
          if (this.socket === socket) this.socket = undefined;
        });
        // A receiver that talks back or half-closes is gone for our purposes.
        socket.on('end', () => socket.destroy());
        socket.on('data', () => {});
        resolve(socket);
      };
      socket.once('error', onError);
      socket.setTimeout(this.def.timeoutMs, () => onError(new Error('ETIMEDOUT')));
    });
  }

  private write(socket: net.Socket, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(new DeliveryError('network', `writing to the syslog receiver failed: ${networkMessage(err)}`)) : resolve()));
    });
  }

  /** A live connection; after a broken one, the batch written last is written again first. */
  private async ensureConnected(): Promise<net.Socket> {
    if (!this.broken && this.socket && !this.socket.destroyed) return this.socket;
    this.socket?.destroy();
    this.socket = undefined;
    const socket = await this.connect();
    this.broken = false;
    this.socket = socket;
    // The batch written just before the connection broke may never have been read: again.
    if (this.lastWritten) await this.write(socket, this.lastWritten);
    return socket;
  }

  async send(events: readonly AuditEvent[]): Promise<void> {
    const format = this.def.format === 'json' ? 'json' : 'cef';
    const data = Buffer.concat(events.map((e) => octetFrame(toSyslog5424(e, format))));
    await this.write(await this.ensureConnected(), data);
    this.lastWritten = data;
  }

  /** Idle: a connection that broke after the last batch gets that batch again (failures wait for the next call). */
  async flush(): Promise<void> {
    if (!this.lastWritten || !(this.broken || this.socket?.destroyed)) return;
    await this.ensureConnected().catch(() => {});
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      socket.end(() => resolve());
      setTimeout(resolve, 1_000).unref();
    });
    socket.destroy();
  }
}
