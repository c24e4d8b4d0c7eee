// The pause program and its one-file image layer, shared by the Swarm driver (its network anchors' image, pushed to
// the cluster's registry) and the Docker driver (network holders, imported into the engine): no registry, no
// toolchain, no host binary needed. x86-64 only.

/**
 * A 129-byte static x86-64 executable that sleeps in pause(2) until a signal kills it (Kubernetes' pause container,
 * without the C runtime): ELF header, one R+X PT_LOAD of the file at 0x400000, then `mov eax, 34; syscall; jmp -9`.
 */
export function pauseExecutable(): Buffer {
  const code = Buffer.from([0xb8, 0x22, 0, 0, 0, 0x0f, 0x05, 0xeb, 0xf7]);
  const size = 64 + 56 + code.length;
  const base = 0x400000n;
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0], 0); // ELF, 64-bit, little-endian, version 1, System V
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(0x3e, 18); // x86-64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(base + 120n, 24); // entry: the code right after the headers
  b.writeBigUInt64LE(64n, 32); // program headers right after the ELF header
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(1, 56);
  b.writeUInt32LE(1, 64); // PT_LOAD
  b.writeUInt32LE(5, 68); // R+X
  b.writeBigUInt64LE(base, 80);
  b.writeBigUInt64LE(base, 88);
  b.writeBigUInt64LE(BigInt(size), 96);
  b.writeBigUInt64LE(BigInt(size), 104);
  b.writeBigUInt64LE(0x1000n, 112);
  code.copy(b, 120);
  return b;
}

/** A one-file ustar archive (`/pause`, mode 0755, owned by root, mtime 0): the pause image's only layer. */
export function pauseLayer(): Buffer {
  const data = pauseExecutable();
  const h = Buffer.alloc(512);
  const put = (s: string, at: number) => h.write(s, at, 'ascii');
  put('pause', 0);
  put('0000755\0', 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  put(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  put('00000000000\0', 136);
  put('        ', 148);
  put('0', 156);
  put('ustar\0', 257);
  put('00', 263);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad, Buffer.alloc(1024)]);
}
