// The scaled scenarios the bench explores, generated (not stored): N MAP_DMA tasks against M
// munmap tasks (the shape of test/fixtures/many-tasks.ts, with N and M apart and one buffer per
// task), and the built-in exit-with-page-requests with N page-request tasks instead of two.
import { readFileSync } from 'node:fs';

const hex = (n) => `0x${n.toString(16)}`;
const text = (lines) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;

/**
 * N tasks each MAP_DMA a buffer of their own, M tasks each munmap a buffer the prologue
 * DMA-mapped: the map-vs-munmap race many times over. `buffers` (default N + M) is how many
 * buffers the prologue mmaps; test/fixtures/many-tasks.ts uses it for issue 9's 2000.
 */
export function mapVsMunmap(maps, unmaps, { buffers = maps + unmaps, description } = {}) {
  const tasks = maps + unmaps;
  if (buffers < tasks) throw new Error(`${tasks} tasks need at least ${tasks} buffers, got ${buffers}`);
  const buffer = (i) => 0x7f0000000000 + i * 0x200000;
  const dmaArg = (i) => ({ flags: ['READ', 'WRITE'], vaddr: hex(buffer(i)), iova: hex(i * 0x200000), size: '0x10000' });
  const lines = [
    { format: 'iommu-model/1', description: description ?? `bench: ${maps} MAP_DMA tasks vs ${unmaps} munmap tasks of DMA-mapped buffers (test/fixtures/many-tasks.ts)` },
    { op: 'host.device', device: '0000:01:00.0', group: 1, bars: [{ index: 0, phys: '0xe0000000', size: '0x100000' }] },
    { op: 'process.spawn', pid: 1, cap_ipc_lock: true },
    { op: 'open', pid: 1, path: '/dev/vfio/vfio', expect: { ret: 3 } },
    { op: 'open', pid: 1, path: '/dev/vfio/1', expect: { ret: 4 } },
    { op: 'ioctl', pid: 1, fd: 4, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: 3 }, expect: { ret: 0 } },
    { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU', expect: { ret: 0 } },
  ];
  for (let i = 0; i < buffers; i += 1) lines.push({ op: 'mmap', pid: 1, addr: hex(buffer(i)), length: '0x10000' });
  for (let i = maps; i < tasks; i += 1) lines.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: dmaArg(i), expect: { ret: 0 } });
  for (let i = 0; i < maps; i += 1) lines.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: dmaArg(i), task: `map${i}`, expect: { ret: 0 } });
  for (let i = maps; i < tasks; i += 1) lines.push({ op: 'munmap', pid: 1, addr: hex(buffer(i)), length: '0x10000', task: `munmap${i}`, expect: { ret: 0 } });
  return text(lines);
}

/**
 * The built-in exit-with-page-requests (src/scenarios/), its page-request tasks replaced by `n`
 * of them, each on its own page of the bound mm.
 */
export function exitWithPageRequests(root, n) {
  const all = readFileSync(`${root}/src/scenarios/exit-with-page-requests.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const first = all.findIndex((r) => r.op === 'device.page_request');
  const template = all[first];
  const rest = all.filter((r) => r.op !== 'device.page_request');
  const requests = [];
  for (let k = 1; k <= n; k += 1) {
    const { comment: _comment, write: _write, ...r } = template;
    requests.push({ ...r, addr: hex(0x7f0000000000 + k * 0x1000), ...(k % 2 === 1 ? { write: true } : {}), task: `prq${k}` });
  }
  rest[0] = { ...rest[0], description: `bench: exit-with-page-requests with ${n} page-request tasks` };
  return text([...rest.slice(0, first), ...requests, ...rest.slice(first)]);
}
