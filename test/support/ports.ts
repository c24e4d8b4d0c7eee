// A free loopback TCP port for tests that must name a port before something binds it.
import { createServer, type AddressInfo } from 'node:net';

/** A loopback port free right now (bound, then released: whoever binds it next wins; fine for one test process). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}
