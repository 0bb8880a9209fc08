/** GraphQL subscriptions an instance holds, read from its Prometheus gauge at `/metrics`. */
export async function openSubscriptions(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = /^wxlive_graphql_subscriptions_open (\d+)$/m.exec(text);
  if (!match) throw new Error('wxlive_graphql_subscriptions_open missing from /metrics');
  return Number(match[1]);
}
