/**
 * Every simulated route that has fault knobs and counters, by name. Names are stable: tests,
 * SIM_CONFIG_FILE and dashboards refer to them.
 */
export const SIM_ROUTES = [
  'market.kline',
  'chat.completions',
  'marketplace.conversation',
  'marketplace.tool',
  'marketplace.invoke',
  'marketplace.poll',
  'publish.article',
  'publish.status',
  'publish.lookup',
  'publish.page',
  'publish.interactions',
  'webhook.notify',
] as const;

export type SimRoute = (typeof SIM_ROUTES)[number];

/** `routes['*']` in the settings: knobs for every route that has none of its own. */
export const ANY_ROUTE = '*';
