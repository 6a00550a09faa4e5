/** Where a push takes the user: the app screen that fixes the account, and its web equivalent. */
export interface LinkSettings {
  /** App URL scheme, e.g. `intellifin` → `intellifin://accounts/<id>/reconnect?provider=mono`. */
  deepLinkScheme: string;
  /** Web app base URL, e.g. `https://app.intellifin.co`. */
  webBaseUrl: string;
}

export function deepLink(s: LinkSettings, accountId: string, provider: string): string {
  return `${s.deepLinkScheme}://accounts/${encodeURIComponent(accountId)}/reconnect?provider=${encodeURIComponent(provider)}`;
}

export function webUrl(s: LinkSettings, accountId: string, provider: string): string {
  const base = s.webBaseUrl.replace(/\/+$/, '');
  return `${base}/accounts/${encodeURIComponent(accountId)}/reconnect?provider=${encodeURIComponent(provider)}`;
}
