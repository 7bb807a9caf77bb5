/**
 * Model-based testing, way 2 (docs/model-based-testing.md): fast-check's `fc.commands` drives an
 * implementation and the model (createModel) side by side with the same stimuli, compares each
 * answer with the model's outcome field by field, and shrinks a failing run to the shortest
 * sequence of calls that shows a difference. Shared by the test and the documentation's example.
 */
import * as fc from 'fast-check';
import { createModel, type Model } from '../../src/api/model.js';
import type { StimulusRecord } from '../../src/api/records.js';
import { firstDifference, type Implementation } from '../../src/run/gen/conformance.js';
import type { Header } from '../../src/vocab/records.js';

const HEADER: Header = { format: 'iommu-model/1', scheme: 'upstream' };
const PID = 100;
/** The container is fd 3 after this set-up; 64 KiB of memory at VA backs every mapping. */
const CONTAINER = 3;
const VA = 0x7f0000000000n;
const IOVA = 0x100000n;
const SETUP: readonly StimulusRecord[] = [
  { op: 'process.spawn', pid: PID },
  { op: 'open', pid: PID, path: '/dev/vfio/vfio' },
  { op: 'host.device', device: '0000:01:00.0', group: 26 },
  { op: 'open', pid: PID, path: '/dev/vfio/26' },
  { op: 'ioctl', pid: PID, fd: 4, cmd: 'VFIO_GROUP_SET_CONTAINER', arg: { fd: CONTAINER } },
  { op: 'ioctl', pid: PID, fd: CONTAINER, cmd: 'VFIO_SET_IOMMU', arg: 'VFIO_TYPE1v2_IOMMU' },
  { op: 'mmap', pid: PID, addr: `0x${VA.toString(16)}`, length: '0x10000' },
];

/** The two sides a run drives: the model is the oracle. */
export interface Sides {
  readonly model: Model;
  readonly impl: Implementation;
}

const hex = (n: bigint): string => `0x${n.toString(16)}`;

/** One ioctl on both sides; a difference fails the run with the call and the field. */
class Call implements fc.Command<object, Sides> {
  constructor(
    private readonly name: 'MapDma' | 'UnmapDma',
    private readonly page: number,
    private readonly pages: number,
  ) {}

  private record(): StimulusRecord {
    const range = { iova: hex(IOVA + BigInt(this.page) * 0x1000n), size: hex(BigInt(this.pages) * 0x1000n) };
    return this.name === 'MapDma'
      ? { op: 'ioctl', pid: PID, fd: CONTAINER, cmd: 'VFIO_IOMMU_MAP_DMA', arg: { flags: ['READ', 'WRITE'], vaddr: hex(VA), ...range } }
      : { op: 'ioctl', pid: PID, fd: CONTAINER, cmd: 'VFIO_IOMMU_UNMAP_DMA', arg: { flags: [], ...range } };
  }

  check(): boolean {
    return true;
  }

  run(_m: object, s: Sides): void {
    const expected = s.model.apply(this.record()).outcome ?? {};
    const d = firstDifference(expected, s.impl.apply(this.record()));
    if (d !== null) throw new Error(`${this.toString()}: ${d.field}: expected ${String(d.expected)}, got ${String(d.actual)}`);
  }

  toString(): string {
    return `${this.name}(iova=${hex(IOVA + BigInt(this.page) * 0x1000n)}, size=${hex(BigInt(this.pages) * 0x1000n)})`;
  }
}

/** MAP_DMA and UNMAP_DMA of 1 to 4 pages at one of the first 8 pages of the IOVA range. */
const call = fc
  .tuple(fc.constantFrom('MapDma' as const, 'UnmapDma' as const), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 4 }))
  .map(([name, page, pages]) => new Call(name, page, pages));

/** Both sides after the same set-up (the model checks it; the implementation must accept it). */
function sides(impl: Implementation): Sides {
  const model = createModel({ scheme: HEADER.scheme });
  impl.start(HEADER);
  for (const r of SETUP) {
    model.apply(r);
    impl.apply(r);
  }
  return { model, impl };
}

/** The property: every sequence of calls gives the same answers on both sides. */
export function sideBySide(makeImpl: () => Implementation): fc.IPropertyWithHooks<[Iterable<fc.Command<object, Sides>>]> {
  return fc.property(fc.commands([call], { maxCommands: 20 }), (cmds) => {
    fc.modelRun(() => ({ model: {}, real: sides(makeImpl()) }), cmds);
  });
}
