// Per-key serialisation for volume drivers: the operations on one volume (create, mount, grow, snapshot, remove)
// never overlap, while different volumes proceed in parallel. A failed operation does not stop the next one.

/** Runs each key's functions one after another, in call order. */
export class KeyedSerial {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier call with the same key has settled; answers what `fn` answers. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => { if (this.tails.get(key) === tail) this.tails.delete(key); });
    return next;
  }
}
