/** Returns the uri with its password (and any token in the user part) replaced by `***`. */
export function redactUri(uri: string | undefined): string {
  if (uri === undefined) return '(no uri)';
  try {
    const url = new URL(uri);
    if (url.password) url.password = '***';
    else if (url.username) url.username = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|token|secret|key|auth/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    // Unparsable: keep the scheme only, the rest may hold credentials.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(uri)?.[0];
    return scheme ? `${scheme}//…` : '…';
  }
}
