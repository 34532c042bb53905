/** The export stream: a POSIX (ustar) tar written with tar-stream. */
import tar from "tar-stream";
import type { Readable } from "node:stream";

export interface TarMember { name: string; data: string | Uint8Array; mode: number }

export function tarStream(members: TarMember[], mtime = new Date()): Readable {
  const pack = tar.pack();
  for (const m of members) {
    const data = typeof m.data === "string" ? Buffer.from(m.data) : Buffer.from(m.data);
    pack.entry({ name: m.name, mode: m.mode, mtime, size: data.length, type: "file", uname: "", gname: "" }, data);
  }
  pack.finalize();
  return pack as unknown as Readable;
}
