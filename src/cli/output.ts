/**
 * The one writer of output files (replay --record, check --out, demo's counterexamples):
 * docs/robustness.md "Output files" is the contract.
 *
 * - `-` is stdout; so is /dev/stdout, and /dev/fd/N is fd N (the process's own fds).
 * - An existing path that is not a regular file (a FIFO, a character device): the bytes are
 *   written through to it, as a shell's `>` would.
 * - A regular file or a new path: a temporary file beside the target (`.<base>.iommu-model.<pid>.tmp`)
 *   gets the existing file's mode (and, as root, owner), the bytes, an fsync; then it is renamed
 *   over the target and the directory is fsynced. Until the rename the old content is untouched.
 * - A symlink: what it points to, by the rules above, so the link survives.
 *
 * Writes are buffered and flushed with blocking writes: a stream of any length (a recording of
 * millions of records) holds one buffer in memory, and a slow disk or reader slows the producer.
 * A temporary file is removed when the write fails, when the process gets SIGINT, SIGTERM or
 * SIGHUP (exit 128 + the signal's number), and, if a kill left it, by the next output opened in
 * its directory (its pid is not alive).
 */
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { constants as osConstants } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../vocab/errors.js';

/** An output file being written: text goes out as it comes; `close` makes the file whole. */
export interface Output {
  write(text: string): void;
  /** Flushes; a temporary file is synced and renamed over the target. */
  close(): void;
  /** Gives up: a temporary file is removed and the target keeps its old content. */
  abort(): void;
}

/** Where `-` writes (the command's Io.stdout); the process's stdout when not given. */
export type StdoutSink = (s: string) => void;

const FLUSH_AT = 64 * 1024;
/** Symlinks followed before ELOOP, as the kernel's MAXSYMLINKS. */
const MAX_LINKS = 40;
const TEMP = /^\..+\.iommu-model\.([1-9][0-9]{0,9})\.tmp$/;

/** Temporary files this process has open: removed on a signal, spared by the stale sweep. */
const liveTemps = new Set<string>();

/** Writes `text` to `file` by the rules above: whole, or (on any failure) not at all. */
export function writeAtomic(file: string, text: string, stdout?: StdoutSink): void {
  const out = openOutput(file, stdout);
  out.write(text);
  out.close();
}

/** Opens `file` for writing by the rules above. Errors are InputErrors naming `file`. */
export function openOutput(file: string, stdout: StdoutSink = (s) => void process.stdout.write(s)): Output {
  if (file === '-') return buffered(stdout, () => {});
  const target = classify(file);
  switch (target.kind) {
    case 'fd': {
      const fd = target.fd;
      return buffered(fd === 1 ? stdout : (s) => writeAll(file, fd, s), () => {});
    }
    case 'through': {
      const fd = attempt(file, () => openSync(target.path, fsConstants.O_WRONLY));
      return buffered((s) => writeAll(file, fd, s), () => attempt(file, () => closeSync(fd)), () => closeQuietly(fd));
    }
    case 'replace':
      return temporary(file, target.path, target.existing);
  }
}

/**
 * Refuses now what openOutput would refuse at the end of a long search (check --out,
 * --checkpoint): a directory, a path through a file, a file it may not write, a missing folder.
 */
export function checkOutput(file: string): void {
  if (file === '-') return;
  const target = classify(file);
  if (target.kind === 'replace' && target.existing === null) attempt(file, () => statSync(dirname(target.path)), dirname(file));
}

/** Whether `file` is this process's stdout (`-`, /dev/stdout, /dev/fd/1, ...), as openOutput resolves it. */
export function isStdout(file: string): boolean {
  if (file === '-') return true;
  try {
    const target = classify(file);
    return target.kind === 'fd' && target.fd === 1;
  } catch {
    return false; // openOutput reports what is wrong with the path
  }
}

type Target =
  /** One of this process's own fds (/dev/stdout, /dev/fd/3): written to that fd, as `-` is. */
  | { kind: 'fd'; fd: number }
  /** A FIFO, a device, another process's fd: opened and written to. */
  | { kind: 'through'; path: string }
  /** A regular file, or nothing yet: replaced through a temporary file. */
  | { kind: 'replace'; path: string; existing: Stats | null };

/** What `file` names, its symlinks followed one at a time (a dangling link names its target). */
function classify(file: string): Target {
  // `out/` names a directory even when there is none (resolve would drop the slash)
  if (file.endsWith('/')) throw isDirectory(file);
  let cur = resolve(file);
  for (let hops = 0; ; hops += 1) {
    let st: Stats;
    try {
      st = lstatSync(cur);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return { kind: 'replace', path: cur, existing: null };
      throw cannotWrite(file, e);
    }
    const open = procFd(cur);
    if (open !== null) return open.pid === process.pid ? { kind: 'fd', fd: open.fd } : { kind: 'through', path: cur };
    if (st.isSymbolicLink()) {
      if (hops === MAX_LINKS) throw new InputError(file, null, null, 'cannot write: too many levels of symbolic links (ELOOP)');
      cur = resolve(dirname(cur), readlinkSync(cur));
    } else if (st.isDirectory()) throw isDirectory(file);
    else if (!st.isFile()) return { kind: 'through', path: cur };
    else {
      // A file the user may not write is refused, as open(O_WRONLY) would refuse it, rather than
      // replaced by the rename (which needs only the directory to be writable).
      attempt(file, () => closeSync(openSync(cur, fsConstants.O_WRONLY)));
      return { kind: 'replace', path: cur, existing: st };
    }
  }
}

/**
 * An entry of /proc/<pid>/fd (also reached as /dev/fd/<n>, /proc/self/fd/<n>): a process's open
 * file. Its "symlink" is not a path to follow (it reads `pipe:[4711]`), and a regular file behind
 * it must not be replaced under the process writing to it (`--record /dev/stdout > out`).
 */
function procFd(path: string): { pid: number; fd: number } | null {
  const m = /\/fd\/([0-9]+)$/.exec(path);
  if (m === null) return null;
  let dir: string;
  try {
    dir = realpathSync.native(dirname(path));
  } catch {
    return null;
  }
  const p = /^\/proc\/([0-9]+)(?:\/task\/[0-9]+)?\/fd$/.exec(dir);
  return p === null ? null : { pid: Number(p[1]), fd: Number(m[1]) };
}

/** A temporary file beside `path`, renamed over it on close. */
function temporary(file: string, path: string, existing: Stats | null): Output {
  const dir = dirname(path);
  removeStaleTemps(dir);
  const tmp = join(dir, tempName(basename(path)));
  installSignalHandlers(); // before the file exists, so that no signal finds it unguarded
  const fd = attempt(file, () => openSync(tmp, 'wx', 0o666), dir);
  liveTemps.add(tmp);
  const drop = (): void => {
    closeQuietly(fd);
    removeQuietly(tmp);
    liveTemps.delete(tmp);
  };
  try {
    if (existing !== null) {
      if (process.geteuid?.() === 0) fchownSync(fd, existing.uid, existing.gid);
      fchmodSync(fd, existing.mode & 0o7777);
    }
  } catch (e) {
    drop();
    throw cannotWrite(file, e);
  }
  const commit = (): void => {
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
    liveTemps.delete(tmp);
    syncDirectory(dir);
  };
  return buffered((s) => writeAll(file, fd, s), () => attempt(file, commit), drop);
}

/** Collects text and hands it to `flush` in chunks of FLUSH_AT; any failure drops the output. */
function buffered(flush: (s: string) => void, commit: () => void, drop: () => void = () => {}): Output {
  let parts: string[] = [];
  let size = 0;
  const flushAll = (): void => {
    const s = parts.join('');
    parts = [];
    size = 0;
    if (s !== '') flush(s);
  };
  const guarded = (fn: () => void): void => {
    try {
      fn();
    } catch (e) {
      drop();
      throw e;
    }
  };
  return {
    write(text) {
      parts.push(text);
      size += text.length;
      if (size >= FLUSH_AT) guarded(flushAll);
    },
    close() {
      guarded(() => {
        flushAll();
        commit();
      });
    },
    abort: drop,
  };
}

/** write(2) until every byte is out (a pipe may take part of a large write). */
function writeAll(file: string, fd: number, s: string): void {
  const buf = Buffer.from(s, 'utf8');
  attempt(file, () => {
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
  });
}

/** `.<base>.iommu-model.<pid>.tmp`, the base cut to keep the name within NAME_MAX (255 bytes). */
function tempName(base: string): string {
  const cut = Buffer.byteLength(base) > 200 ? Buffer.from(base).subarray(0, 200).toString() : base;
  return `.${cut}.iommu-model.${process.pid}.tmp`;
}

/** Removes the temporary files a killed run left in `dir`: those whose pid is not alive. */
function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // opening the temporary file will say what is wrong with the directory
  }
  for (const name of names) {
    const m = TEMP.exec(name);
    const path = join(dir, name);
    if (m === null || liveTemps.has(path)) continue;
    const pid = Number(m[1]);
    // our own pid on a file we do not have open: left by an earlier process with our pid
    if (pid === process.pid || !alive(pid)) removeQuietly(path);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errCode(e) !== 'ESRCH'; // EPERM: alive, another user's
  }
}

/**
 * fsync of the directory, so that the rename survives a crash. Best effort: the file is in place
 * by now, and some file systems refuse an fsync of a directory.
 */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // the rename is done; only its durability across a crash is not known
  }
}

/** Removes a temporary file if it can: a failure to clean up must not hide why the write failed. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // EACCES, EBUSY: left for the next run's sweep
  }
}

/** close(2) of an fd that an earlier close may have closed already. */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF: closed already
  }
}

let handlersInstalled = false;

/**
 * On SIGINT, SIGTERM or SIGHUP: remove the temporary files and exit 128 + the signal's number.
 * Installed once, for the rest of the process, so that a signal that arrives while a file is
 * being renamed still ends the process.
 */
function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const tmp of liveTemps) removeQuietly(tmp);
      process.exit(128 + osConstants.signals[sig]);
    });
  }
}

/** Runs a file-system call on an output path; a failure is an InputError naming `file` (exit 2). */
export function attempt<T>(file: string, fn: () => T, dir?: string): T {
  try {
    return fn();
  } catch (e) {
    throw cannotWrite(file, e, dir);
  }
}

/** One line naming the file: `cannot write: no space left on device (ENOSPC)`. */
function cannotWrite(file: string, e: unknown, dir?: string): InputError {
  if (e instanceof InputError) return e;
  const code = errCode(e);
  if (code === 'ENOENT' && dir !== undefined) return new InputError(file, null, null, `cannot write: no such directory ${dir}`);
  const what = /^E[A-Z0-9]+: ([^,]+)/.exec((e as Error).message)?.[1] ?? (e as Error).message;
  return new InputError(file, null, null, `cannot write: ${what}${code === undefined ? '' : ` (${code})`}`);
}

function isDirectory(file: string): InputError {
  return new InputError(file, null, null, 'cannot write: is a directory (EISDIR)');
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}
