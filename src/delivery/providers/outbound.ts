import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
// The modules, not their `request` bindings: looked up at call time, so the OpenTelemetry http
// instrumentation (src/telemetry/), which replaces `request` on the module, sees every request.
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { connect, isIP, type LookupFunction, type Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Config } from '../../config/env.ts';

/**
 * The outbound address policy. Everything Herald sends on a tenant's behalf (webhooks, status
 * webhooks and callbacks, Twilio/WhatsApp/web-push APIs, SMTP) may only reach public unicast
 * addresses, unless the operator allow-lists more (OUTBOUND_ALLOW_PRIVATE, OUTBOUND_ALLOWED_CIDRS).
 * Otherwise a tenant could make Herald talk to its own network: the cloud metadata service
 * (169.254.169.254), a local Redis, an admin port on 127.0.0.1.
 *
 * It is checked twice: when a URL or host is configured (a precise error for the operator) and
 * again on every connection, on the addresses the name resolves to at that moment, so a name
 * that resolved to a public address when it was configured and to 127.0.0.1 since (DNS
 * rebinding) is still refused. The connect-time check is the one that protects; the other is
 * feedback.
 */

/** An address or host that the policy refuses; a configuration problem, so never worth a retry. */
export class OutboundRefusedError extends Error {
  readonly code = 'EOUTBOUNDREFUSED';
}

type LookupImpl = (hostname: string, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export interface OutboundPolicyOptions {
  /** Every address is allowed (development, tests, trusted single-tenant deployments). */
  allowPrivate: boolean;
  /** Non-public ranges that are allowed anyway, e.g. an internal SMTP relay: ["10.0.0.25/32"]. */
  allowedCidrs?: string[];
  /** Name resolution (dns.lookup with all: true); tests pass a resolver of their own. */
  resolve?: LookupImpl;
}

const RANGE_WORDS: Record<string, string> = {
  loopback: 'loopback',
  private: 'private',
  linkLocal: 'link-local',
  uniqueLocal: 'unique-local (private)',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  carrierGradeNat: 'shared (carrier-grade NAT)',
  reserved: 'reserved',
};

/** Names that always mean this machine (RFC 6761), whatever the resolver says. */
const LOCAL_NAMES = /^(localhost|localhost\.localdomain|.+\.localhost)\.?$/i;

const defaultResolve: LookupImpl = (hostname, callback) => dnsLookup(hostname, { all: true, verbatim: true }, callback);

export class OutboundPolicy {
  readonly allowPrivate: boolean;
  private readonly cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][];
  private readonly resolve: LookupImpl;

  constructor(options: OutboundPolicyOptions) {
    this.allowPrivate = options.allowPrivate;
    this.cidrs = (options.allowedCidrs ?? []).map((c) => {
      const [range, bits] = ipaddr.parseCIDR(c);
      return [normalize(range), range.kind() === 'ipv6' && normalize(range).kind() === 'ipv4' ? bits - 96 : bits];
    });
    this.resolve = options.resolve ?? defaultResolve;
  }

  /** Why an IP address may not be reached, or null when it may. */
  refusal(address: string): string | null {
    if (this.allowPrivate) return null;
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      parsed = normalize(ipaddr.parse(address));
    } catch {
      return `${address} is not an IP address`;
    }
    if (this.cidrs.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return null;
    const range = rangeOf(parsed);
    if (range === 'unicast') return null;
    return `${address} is a ${RANGE_WORDS[range] ?? range} address`;
  }

  /** Resolves a name and keeps the addresses the policy allows; fails when none is left. */
  resolveAllowed(hostname: string, callback: (error: Error | null, addresses: LookupAddress[]) => void): void {
    this.resolve(hostname, (error, addresses) => {
      if (error) return callback(error, []);
      const allowed = addresses.filter((a) => this.refusal(a.address) === null);
      if (allowed.length === 0) {
        const first = addresses[0];
        return callback(new OutboundRefusedError(`${hostname} resolves to ${first ? this.refusal(first.address) : 'no address'}; ${HINT}`), []);
      }
      callback(null, allowed);
    });
  }

  /**
   * A `lookup` for net/http/tls: the connection is made only to an allowed address of the name,
   * resolved right now. (IP literals never reach a lookup: connect() checks them itself.)
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    this.resolveAllowed(hostname, (error, addresses) => {
      if (error) return (callback as (e: Error) => void)(error);
      const family = typeof options === 'object' && options.family ? Number(options.family) : 0;
      const matching = family ? addresses.filter((a) => a.family === family) : addresses;
      if (typeof options === 'object' && options.all) return (callback as (e: null, a: LookupAddress[]) => void)(null, matching);
      const first = matching[0];
      if (!first) return (callback as (e: Error) => void)(new OutboundRefusedError(`${hostname} has no allowed IPv${family} address`));
      callback(null, first.address, first.family);
    });
  };

  /** Throws OutboundRefusedError when a host (a name or an IP literal) may not be reached. */
  checkLiteral(host: string): void {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare)) {
      const refused = this.refusal(bare);
      if (refused) throw new OutboundRefusedError(`${refused}; ${HINT}`);
    } else if (!this.allowPrivate && LOCAL_NAMES.test(bare)) {
      throw new OutboundRefusedError(`${bare} is this machine (loopback); ${HINT}`);
    }
  }

  /**
   * Configuration-time check of a host: literals and local names, then the name's current
   * addresses (bounded: a resolver that does not answer accepts the host, the connection
   * will be checked anyway). Answers the problem, or null.
   */
  async checkHost(host: string, timeoutMs = 2_000): Promise<string | null> {
    try {
      this.checkLiteral(host);
    } catch (error) {
      return (error as Error).message;
    }
    const bare = host.replace(/^\[|\]$/g, '');
    if (this.allowPrivate || isIP(bare)) return null;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      this.resolveAllowed(bare, (error) => {
        clearTimeout(timer);
        // A name that does not resolve (yet) is not refused: only a known bad address is.
        resolve(error instanceof OutboundRefusedError ? error.message : null);
      });
    });
  }

  /** Configuration-time check of an http(s) URL: no credentials inside, an allowed host. */
  async checkUrl(value: string): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return 'must be an http(s) URL';
    }
    if (url.username || url.password) return CREDENTIALS_MESSAGE;
    return this.checkHost(url.hostname);
  }
}

const HINT = 'outbound requests may not reach private networks (see OUTBOUND_ALLOWED_CIDRS)';
export const CREDENTIALS_MESSAGE = 'must not contain credentials (user:password@); give them as provider secrets';

/** IPv4-mapped IPv6 (::ffff:127.0.0.1) is the IPv4 address it maps. */
function normalize(address: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/**
 * ipaddr.js's range name, 'unicast' for public addresses. NAT64 (64:ff9b::/96) addresses are
 * judged by the IPv4 address they embed (an IPv6-only network reaches every IPv4 host that way).
 */
function rangeOf(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  const range = address.range();
  if (range === 'rfc6052') {
    const bytes = address.toByteArray().slice(-4);
    return rangeOf(new ipaddr.IPv4(bytes));
  }
  return range;
}

/** True when a string is a URL with user:password@ inside (refused when configured, redacted when shown). */
export function hasCredentials(value: string): boolean {
  try {
    const url = new URL(value);
    return Boolean(url.username || url.password);
  } catch {
    return false;
  }
}

/** A URL fit for a log line or an error message: without its credentials and query. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * What a remote answer may contribute to a stored error (message.lastError, shown to the
 * tenant): a short single line of printable text. A refused or misdirected request must not
 * turn Herald into a way to read another service's answers.
 */
export function excerpt(text: string, max = 200): string {
  const line = text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

let current = new OutboundPolicy({ allowPrivate: false });

/** The process's policy (set once at start-up from the configuration; refuses private addresses until then). */
export function outboundPolicy(): OutboundPolicy {
  return current;
}

export function setOutboundPolicy(policy: OutboundPolicy): void {
  current = policy;
}

/**
 * The policy a configuration asks for. Unset OUTBOUND_ALLOW_PRIVATE means: allowed only for the
 * embedded mode outside production (one developer's machine, where a local mail catcher or
 * webhook receiver is the point); refused with PostgreSQL or in production, where tenants are
 * strangers to the network Herald runs in.
 */
export function outboundPolicyFromConfig(config: Config): OutboundPolicy {
  const allowPrivate = config.OUTBOUND_ALLOW_PRIVATE ?? (config.NODE_ENV !== 'production' && !config.DATABASE_URL);
  return new OutboundPolicy({ allowPrivate, allowedCidrs: config.OUTBOUND_ALLOWED_CIDRS });
}

export interface OutboundAnswer {
  status: number;
  headers: Headers;
  /** The body, at most MAX_ANSWER_BYTES of it. */
  text: string;
}

/** Answers are read up to this size: providers answer small JSON; anything longer is cut. */
export const MAX_ANSWER_BYTES = 256 * 1024;

/**
 * One HTTP(S) request under the policy: the host is checked, the connection is made only to an
 * allowed address of it (resolved at connect time), redirects are not followed, the answer is
 * read up to MAX_ANSWER_BYTES. Rejects with OutboundRefusedError, or the network error.
 */
export function sendOutbound(
  target: string,
  init: { method: string; headers: Record<string, string>; body?: string | Uint8Array | null; timeoutMs: number },
  policy: OutboundPolicy = current,
): Promise<OutboundAnswer> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(target);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new OutboundRefusedError(`${url.protocol} URLs are not sent to`);
      if (url.username || url.password) throw new OutboundRefusedError(`the URL ${CREDENTIALS_MESSAGE}`);
      policy.checkLiteral(url.hostname);
    } catch (error) {
      return reject(error instanceof OutboundRefusedError ? error : new OutboundRefusedError('not a valid URL'));
    }
    const body = init.body ?? undefined;
    const headers: Record<string, string> = { ...init.headers };
    if (body !== undefined) headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    const request = (url.protocol === 'https:' ? https : http).request(url, {
      method: init.method,
      headers,
      lookup: policy.lookup,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
    // `on`, not `once`: a second error (a reset after an abort) must not become an uncaught one.
    request.on('error', reject);
    request.once('response', (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let cut = false;
      response.on('data', (chunk: Buffer) => {
        if (size >= MAX_ANSWER_BYTES) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_ANSWER_BYTES) {
          cut = true;
          response.destroy();
        }
      });
      let finished = false;
      const done = () => {
        if (finished) return;
        finished = true;
        // Cut by the timeout or the peer (not by us): an incomplete answer is a network failure.
        if (!response.complete && !cut) return reject(new Error('the answer was cut short (timeout or connection reset)'));
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) answerHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
        }
        resolve({ status: response.statusCode ?? 0, headers: answerHeaders, text: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8') });
      };
      response.once('end', done);
      response.once('close', done);
      response.on('error', () => undefined);
    });
    request.end(body);
  });
}

/**
 * A TCP connection under the policy (SMTP): an IP literal is checked, a name is resolved by the
 * guarded lookup. Resolves once connected.
 */
export function connectOutbound(host: string, port: number, timeoutMs: number, policy: OutboundPolicy = current): Promise<Socket> {
  return new Promise((resolve, reject) => {
    try {
      policy.checkLiteral(host);
    } catch (error) {
      return reject(error);
    }
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port, lookup: policy.lookup });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connection to ${host}:${port} timed out`), { code: 'ETIMEDOUT' })), timeoutMs);
    let settled = false;
    socket.once('connect', () => {
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    });
    // Stays attached (a no-op once connected): the SMTP client adds its own handler, and an
    // error in between must not be an uncaught one.
    socket.on('error', (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Configuration-time check of a provider's settings: each URL and host setting its kind
 * declares (ChannelProvider.outbound), against the policy. One issue per refused setting.
 */
export async function checkOutboundSettings(
  provider: { outbound?: { urls?: string[]; hosts?: string[] } },
  settings: Record<string, unknown>,
  prefix: string,
  policy: OutboundPolicy = current,
): Promise<{ field: string; message: string }[]> {
  const checks = [
    ...(provider.outbound?.urls ?? []).map((key) => ({ key, check: (v: string) => policy.checkUrl(v) })),
    ...(provider.outbound?.hosts ?? []).map((key) => ({ key, check: (v: string) => policy.checkHost(v.trim()) })),
  ];
  const issues = await Promise.all(
    checks.map(async ({ key, check }) => {
      const value = settings[key];
      if (typeof value !== 'string' || value.trim() === '') return null;
      const problem = await check(value);
      return problem ? { field: `${prefix}.${key}`, message: problem } : null;
    }),
  );
  return issues.filter((i): i is { field: string; message: string } => i !== null);
}
