import { createServer, connect, type Server, type Socket } from 'node:net';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';
import { waitFor } from './wait-for';

/** An echo server behind the proxy, and a client that collects what comes back. */
describe('startTcpProxy', () => {
  let echo: Server;
  let proxy: TcpProxy;
  const clients: Socket[] = [];

  beforeEach(async () => {
    echo = createServer((socket) => {
      socket.on('error', () => undefined); // reset by a cut
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const address = echo.address();
    if (!address || typeof address === 'string') throw new Error('no port');
    proxy = await startTcpProxy({ host: '127.0.0.1', port: address.port });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  const open = async () => {
    const client = connect({ host: proxy.host, port: proxy.port });
    clients.push(client);
    const received: string[] = [];
    const events: string[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk.toString()));
    client.on('error', (error: NodeJS.ErrnoException) => events.push(error.code ?? 'error'));
    client.on('close', () => events.push('close'));
    // A cut link may close the connection before it is reported connected.
    await new Promise((resolve) => {
      client.once('connect', resolve);
      client.once('close', resolve);
    });
    return { client, received, events };
  };

  it('passes bytes both ways', async () => {
    const { client, received } = await open();
    client.write('ping');
    await waitFor(() => received.join('') === 'ping' || undefined, { timeoutMs: 2_000 });
    expect(proxy.openConnections).toBe(1);
  });

  it('cut: destroys open connections and closes new ones at once', async () => {
    const open1 = await open();
    open1.client.write('a');
    await waitFor(() => open1.received.length > 0 || undefined, { timeoutMs: 2_000 });
    proxy.setMode('cut');
    await waitFor(() => open1.events.includes('close') || undefined, { timeoutMs: 2_000 });
    const open2 = await open();
    await waitFor(() => open2.events.includes('close') || undefined, { timeoutMs: 2_000 });
    expect(proxy.openConnections).toBe(0);
    expect(proxy.acceptedConnections).toBe(2);
  });

  it('blackhole: accepts and stalls without a byte or an error; pass delivers what was held', async () => {
    const held = await open();
    proxy.setMode('blackhole');
    held.client.write('held');
    const fresh = await open();
    fresh.client.write('fresh');
    // Nothing comes back while the link is a blackhole (checked after the echo had time to answer).
    const before = await new Promise<string[]>((resolve) => setTimeout(() => resolve([...held.received, ...fresh.received]), 200));
    expect(before).toEqual([]);
    expect([...held.events, ...fresh.events]).toEqual([]);
    proxy.setMode('pass');
    await waitFor(() => (held.received.join('') === 'held' && fresh.received.join('') === 'fresh') || undefined, { timeoutMs: 2_000 });
  });
});
