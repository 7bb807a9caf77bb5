// The logs the bench replays, generated: QEMU-like set-up, then cycles of mmap, MAP_DMA and a
// device DMA, unmapping (UNMAP_DMA, munmap) the oldest mapping once `live` are mapped. Past
// type1's dma_entry_limit (65535 per container: vfio_iommu_type1.c, the module parameter, and
// DMA_ENTRY_LIMIT in src/kernel/vfio/type1/dma-tree.ts) the mappings are spread over several
// containers, one group and device each, as a VMM with several assigned devices would.
const hex = (n) => `0x${n.toString(16)}`;

/** The most live mappings the bench puts in one container (under dma_entry_limit). */
export const PER_CONTAINER = 60_000;

/** `n` records after the header; `live` mappings at most at once. */
export function replayLog(n, live) {
  const containers = Math.ceil(live / PER_CONTAINER);
  const lines = [{ format: 'iommu-model/1', description: `bench: map, DMA and unmap cycles, up to ${live} live mappings over ${containers} container(s)` }];
  const device = (c) => `0000:${(c + 1).toString(16).padStart(2, '0')}:00.0`;
  lines.push({ op: 'process.spawn', pid: 1, cap_ipc_lock: true });
  for (let c = 0; c < containers; c += 1) {
    lines.push({ op: 'host.device', device: device(c), group: c + 1, bars: [{ index: 0, phys: hex(0xe0000000 + c * 0x1000000), size: '0x1000000' }] });
  }
  for (let c = 0; c < containers; c += 1) {
    const fd = 3 + 3 * c;
    lines.push(
      { op: 'open', pid: 1, path: '/dev/vfio/vfio', expect: { ret: fd } },
      { op: 'open', pid: 1, path: `/dev/vfio/${c + 1}`, expect: { ret: fd + 1 } },
      { op: 'ioctl', pid: 1, fd: fd + 1, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd } },
      { op: 'ioctl', pid: 1, fd, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
      { op: 'ioctl', pid: 1, fd: fd + 1, cmd: 'VFIO_GROUP_GET_DEVICE_FD', arg: { name: device(c) }, expect: { ret: fd + 2 } },
    );
  }
  const out = lines.map((l) => JSON.stringify(l));
  // mapping i lives in slot i % live: its buffer, its IOVA, its container
  const va = (s) => 0x7f0000000000 + s * 0x100000;
  const iova = (s) => 0x100000000 + Math.floor(s / containers) * 0x100000;
  const fdOf = (s) => 3 + 3 * (s % containers);
  for (let i = 0; out.length < n + 1; i += 1) {
    const s = i % live;
    if (i >= live) {
      out.push(JSON.stringify({ op: 'ioctl', pid: 1, fd: fdOf(s), cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], iova: hex(iova(s)), size: '0x10000' }, expect: { ret: 0, out: { size: '0x10000' } } }));
      out.push(JSON.stringify({ op: 'munmap', pid: 1, addr: hex(va(s)), length: '0x10000' }));
    }
    out.push(JSON.stringify({ op: 'mmap', pid: 1, addr: hex(va(s)), length: '0x10000', expect: { ret: hex(va(s)) } }));
    out.push(JSON.stringify({ op: 'ioctl', pid: 1, fd: fdOf(s), cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(va(s)), iova: hex(iova(s)), size: '0x10000' }, expect: { ret: 0 } }));
    out.push(JSON.stringify({ op: 'device.dma', device: device(s % containers), iova: hex(iova(s) + 0x1000), length: '0x40', write: true, expect: { dma: 'ok' } }));
  }
  return `${out.slice(0, n + 1).join('\n')}\n`;
}

/** A full container: dma_entry_limit (65535) one-page maps, one more (ENOSPC), then UNMAP_DMA ALL. */
export function fullContainerLog() {
  const full = [
    { format: 'iommu-model/1', description: 'bench: a full container, then UNMAP_DMA ALL' },
    { op: 'host.device', device: '0000:01:00.0', group: 1 },
    { op: 'process.spawn', pid: 1, cap_ipc_lock: true },
    { op: 'open', pid: 1, path: '/dev/vfio/vfio' },
    { op: 'open', pid: 1, path: '/dev/vfio/1' },
    { op: 'ioctl', pid: 1, fd: 4, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: 3 } },
    { op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
    { op: 'mmap', pid: 1, addr: '0x7f0000000000', length: hex(65536 * 0x1000) },
  ];
  for (let k = 0; k < 65535; k += 1) full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(0x7f0000000000 + k * 0x1000), iova: hex(k * 0x1000), size: '0x1000' } });
  full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ'], vaddr: '0x7f0000000000', iova: '0x100000000', size: '0x1000' }, expect: { errno: 'ENOSPC' } });
  full.push({ op: 'ioctl', pid: 1, fd: 3, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: ['ALL'], iova: '0x0', size: '0x0' }, expect: { ret: 0, out: { size: hex(65535 * 0x1000) } } });
  return `${full.map((l) => JSON.stringify(l)).join('\n')}\n`;
}
