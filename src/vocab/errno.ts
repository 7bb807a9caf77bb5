/** Symbolic errnos the model returns (docs/log-format.md, Values), with their Linux numbers for reports. */
export const ERRNO_NUMBERS = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, E2BIG: 7, EBADF: 9, EAGAIN: 11, ENOMEM: 12,
  EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19, EINVAL: 22, ENOTTY: 25, ENOSPC: 28,
  EDEADLOCK: 35, EOVERFLOW: 75, EBADFD: 77, EOPNOTSUPP: 95, EADDRINUSE: 98,
} as const;

export type Errno = keyof typeof ERRNO_NUMBERS;
export const ERRNOS: ReadonlySet<string> = new Set(Object.keys(ERRNO_NUMBERS));
