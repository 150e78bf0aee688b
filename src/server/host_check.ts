/**
 * The `Host` rule of a loopback listener (docs/security.md): a browser page that rebinds its own
 * name to 127.0.0.1 reaches the listener with its own name in `Host`, so only loopback names
 * (and the names `--allow-host` adds) are admitted.
 */

/** The host part of a `Host` header: no port, no IPv6 brackets, lowercase. */
export function hostName(header: string): string {
  const value = header.trim().toLowerCase();
  if (value.startsWith("[")) {
    const end = value.indexOf("]");
    return end === -1 ? value : value.slice(1, end);
  }
  const colon = value.lastIndexOf(":");
  return colon !== -1 && /^\d*$/.test(value.slice(colon + 1)) ? value.slice(0, colon) : value;
}

/** Whether a host name is a loopback name or address (localhost, 127.0.0.0/8, ::1). */
export function isLoopbackName(name: string): boolean {
  return name === "localhost" || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

/** A check of the `Host` header against loopback names plus `extra` (`--allow-host`). */
export function loopbackHostCheck(extra: readonly string[]): (header: string | null) => boolean {
  const allowed = new Set(extra.map((name) => hostName(name)));
  // HTTP/1.0 clients may send no Host; a rebinding browser always sends one.
  return (header) => {
    if (header === null) return true;
    const name = hostName(header);
    return isLoopbackName(name) || allowed.has(name);
  };
}
