/**
 * A call to upstream-sim's control and inspection routes (`/__sim/config`, `/__sim/stats`, …):
 * GET without a body, POST with one; anything but a 2xx fails the test that made it.
 */
export function simClient(simUrl: string) {
  return async <T = unknown>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${simUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`sim ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
}
