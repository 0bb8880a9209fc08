import { lookup as dnsLookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';

/** Which endpoint URLs the gateway may send to (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_PRIVATE_ADDRESSES). */
export interface UrlPolicy {
  allowHttp: boolean;
  allowPrivateAddresses: boolean;
}

export type Lookup = (host: string) => Promise<readonly { address: string }[]>;

const defaultLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

export const MAX_URL_LENGTH = 2_048;

/**
 * Whether an address is on the public internet: ipaddr.js's `unicast` range, after unwrapping an
 * IPv4-mapped IPv6 address (`::ffff:127.0.0.1` is loopback). Everything else (loopback, private,
 * link-local with 169.254.169.254, CGNAT, multicast, reserved) is refused unless allowed.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

/**
 * Checks an endpoint URL when it is registered: a URL, https (or http when allowed), no
 * credentials in it, and a host every address of which is public (unless allowed). The same
 * address rule is applied again on every connection by the sender (request-filtering-agent), so
 * a name that later resolves elsewhere (DNS rebinding) is refused then. Returns why not, or undefined.
 */
export async function urlNotAllowed(raw: string, policy: UrlPolicy, lookup: Lookup = defaultLookup): Promise<string | undefined> {
  if (raw.length > MAX_URL_LENGTH) return `The URL is longer than ${MAX_URL_LENGTH} characters.`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'This is not a URL.';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) return `The URL uses ${url.protocol.replace(':', '')}, not https.`;
  if (url.username !== '' || url.password !== '') return 'The URL carries credentials; put none in it (deliveries are signed).';
  if (url.hash !== '') return 'The URL has a #fragment, which is never sent.';
  if (policy.allowPrivateAddresses) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: readonly { address: string }[];
  try {
    addresses = ipaddr.isValid(host) ? [{ address: host }] : await lookup(host);
  } catch {
    return `The host ${host} does not resolve.`;
  }
  if (addresses.length === 0) return `The host ${host} does not resolve.`;
  const blocked = addresses.find((a) => !isPublicAddress(a.address));
  return blocked === undefined ? undefined : `The host ${host} resolves to ${blocked.address}, which is not a public address.`;
}
