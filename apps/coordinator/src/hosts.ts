import { isIP } from "node:net";

/**
 * One entry of HELIX_ALLOWED_HOSTS: `*` (any Host), a host name such as `helix.example.com`, or
 * `.example.com` for that name and every name under it, as in Vite's and webpack-dev-server's
 * `allowedHosts`. No port or scheme: a rebinding page keeps the port, only the name is its own.
 */
export const ALLOWED_HOST_ENTRY = /^(\*|\.?[a-z0-9_-]+(\.[a-z0-9_-]+)*)$/i;

/**
 * Makes the test of a request's `Host` header that defends against DNS rebinding: a page on
 * another site can point a name of its own at this service's address, but the browser then sends
 * that name as Host, which is not on the list. Allowed whatever `allowed` says:
 * - `localhost` and names under `.localhost`, which only ever resolve to this machine;
 * - IP addresses: a page whose origin is an IP address was served from that address, so no DNS is
 *   involved; and Kubernetes probes, Prometheus and in-cluster clients name the pod by its IP.
 * @param allowed - further names, as HELIX_ALLOWED_HOSTS entries; `*` allows any Host
 * @returns whether a Host value (`name`, `name:port`, `[v6]:port`) is allowed; a missing or
 *   malformed one is not (browsers always send a well-formed one)
 */
export function hostCheck(allowed: readonly string[]): (host: string | undefined) => boolean {
  if (allowed.includes("*")) return () => true;
  const names = new Set<string>();
  const domains = ["localhost"];
  for (const entry of allowed.map((e) => e.toLowerCase())) {
    if (entry.startsWith(".")) domains.push(entry.slice(1));
    else names.add(entry);
  }
  return (host) => {
    const name = hostName(host);
    if (name === undefined) return false;
    return isIP(name) !== 0 || names.has(name) || domains.some((d) => name === d || name.endsWith(`.${d}`));
  };
}

/** The name or address in a Host value: lower case, without port, IPv6 brackets or final dot. */
function hostName(host: string | undefined): string | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d*)?$/i.exec(host ?? "");
  return (match?.[1] ?? match?.[2])?.toLowerCase().replace(/\.$/, "");
}
