/** Linux strerror texts and numbers for the errors a spawn can meet, in the `(os error N)` form. */
const SPAWN_ERRORS = {
  ENOENT: ["No such file or directory", 2],
  EACCES: ["Permission denied", 13],
  ENOEXEC: ["Exec format error", 8],
  ENOTDIR: ["Not a directory", 20],
  EPERM: ["Operation not permitted", 1],
  E2BIG: ["Argument list too long", 7],
  ENOMEM: ["Cannot allocate memory", 12],
  EAGAIN: ["Resource temporarily unavailable", 11],
  ELOOP: ["Too many levels of symbolic links", 40],
  ENAMETOOLONG: ["File name too long", 36],
  ETXTBSY: ["Text file busy", 26],
  EISDIR: ["Is a directory", 21],
  EMFILE: ["Too many open files", 24],
} as const satisfies Record<string, readonly [string, number]>;

/** `<strerror> (os error N)` for an errno name; unknown names keep their name. */
export function osErrorText(errno: string): string {
  const known = (SPAWN_ERRORS as Record<string, readonly [string, number] | undefined>)[errno];
  return known ? `${known[0]} (os error ${known[1]})` : `${errno} (os error 0)`;
}
