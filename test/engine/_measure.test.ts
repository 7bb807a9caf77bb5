import { it, expect } from 'vitest';
import { prefix, mapDma, VA, run, ioctl, CFD } from './helpers.js';
it('measure', () => {
  const N = 65535;
  for (const mdev of [true, false]) {
  const recs = prefix({ mdev, mmapLength: 0x1000n, rlimitMemlock: 0x10000000000n });
  for (let i = N; i > 0; i--) recs.push(mapDma(VA, BigInt(i) * 0x1000n, 0x1000n));
  recs.push(mapDma(VA, 0n, 0x1000n));
  const t0 = Date.now();
  const r = run(recs);
  console.log(mdev, Date.now() - t0, r.last);
  }
}, 120000);
