// The zip container of torch.save (PyTorch >= 1.6): only what a reader of stored (uncompressed)
// records needs. Sizes and offsets come from the central directory (PyTorch writes zero sizes in
// local headers and a data descriptor after the data), with zip64 values where the 32-bit fields
// say 0xFFFFFFFF; a local header is read only to find where its record's bytes start. Every
// offset and size is checked against the file before anything is read or allocated from it.
import { readAt, type RandomAccess } from "./random_access.js";
import { WeightsError } from "../errors.js";

export class ZipError extends WeightsError {
  override name = "ZipError";
}

export interface ZipRecord {
  name: string;
  /** Absolute position of the record's bytes. */
  offset: number;
  size: number;
}

const EOCD = 0x06054b50,
  EOCD64 = 0x06064b50,
  LOCATOR64 = 0x07064b50,
  CENTRAL = 0x02014b50,
  LOCAL = 0x04034b50;

/** Largest central directory we read (a state dict has a few thousand records). */
const MAX_DIRECTORY = 64 << 20;

/** Whether the file starts as a zip archive does. */
export async function isZip(ra: RandomAccess): Promise<boolean> {
  if (ra.size < 4) return false;
  const b = await readAt(ra, 0, 4);
  return b[0] === 0x50 && b[1] === 0x4b && b[2] === 3 && b[3] === 4;
}

function u64(dv: DataView, at: number, what: string, where: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ZipError(`${where}: zip64 ${what} ${v} is too large`);
  return Number(v);
}

/** Reads the central directory: every record by name. */
export async function readZip(ra: RandomAccess): Promise<Map<string, ZipRecord>> {
  const where = ra.where;
  if (ra.size < 22) throw new ZipError(`${where}: too short for a zip archive (${ra.size} bytes)`);
  // the end-of-central-directory record: within the last 22 + 65535 bytes (its comment)
  const tailLen = Math.min(ra.size, 22 + 65535);
  const tailPos = ra.size - tailLen;
  const tail = await readAt(ra, tailPos, tailLen);
  const tv = new DataView(tail.buffer);
  let e = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      e = i;
      break;
    }
  }
  if (e < 0)
    throw new ZipError(`${where}: no end-of-central-directory record (truncated or not a zip)`);
  let count = tv.getUint16(e + 10, true);
  let cdSize = tv.getUint32(e + 12, true);
  let cdOffset = tv.getUint32(e + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff || e >= 20) {
    // a zip64 locator just before the record points at the zip64 end record
    const l = e - 20;
    if (l >= 0 && tv.getUint32(l, true) === LOCATOR64) {
      const at = u64(tv, l + 8, "end record offset", where);
      const z = await readAt(ra, at, 56).catch(() => {
        throw new ZipError(`${where}: the zip64 end record at ${at} lies outside the file`);
      });
      const zv = new DataView(z.buffer);
      if (zv.getUint32(0, true) !== EOCD64)
        throw new ZipError(`${where}: no zip64 end record at ${at}`);
      count = u64(zv, 32, "record count", where);
      cdSize = u64(zv, 40, "directory size", where);
      cdOffset = u64(zv, 48, "directory offset", where);
    } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw new ZipError(`${where}: zip64 sizes without a zip64 locator`);
    }
  }
  if (cdOffset + cdSize > ra.size)
    throw new ZipError(
      `${where}: the central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the file (${ra.size} bytes)`,
    );
  if (cdSize > MAX_DIRECTORY)
    throw new ZipError(`${where}: central directory of ${cdSize} bytes is over the limit`);
  if (count > cdSize / 46)
    throw new ZipError(`${where}: ${count} records cannot fit a ${cdSize}-byte directory`);
  const cd = await readAt(ra, cdOffset, cdSize);
  const dv = new DataView(cd.buffer);
  const utf8 = new TextDecoder("utf-8", { fatal: false });
  const entries: { name: string; local: number; size: number; csize: number; method: number }[] =
    [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdSize || dv.getUint32(p, true) !== CENTRAL)
      throw new ZipError(`${where}: central directory entry ${k} is damaged`);
    const method = dv.getUint16(p + 10, true);
    let csize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize)
      throw new ZipError(`${where}: central directory entry ${k} runs past the directory`);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the fields that were 0xFFFFFFFF, in this order
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = dv.getUint16(x, true),
        len = dv.getUint16(x + 2, true);
      if (x + 4 + len > xEnd) throw new ZipError(`${where}: "${name}": damaged extra field`);
      if (id === 1) {
        let q = x + 4;
        const take = (what: string): number => {
          if (q + 8 > x + 4 + len)
            throw new ZipError(`${where}: "${name}": zip64 field without its ${what}`);
          const v = u64(dv, q, what, where);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take("size");
        if (csize === 0xffffffff) csize = take("compressed size");
        if (local === 0xffffffff) local = take("local header offset");
      }
      x += 4 + len;
    }
    entries.push({ name, local, size, csize, method });
    p += 46 + nameLen + extraLen + commentLen;
  }
  const out = new Map<string, ZipRecord>();
  for (const en of entries) {
    if (en.local + 30 > ra.size)
      throw new ZipError(`${where}: record "${en.name}": local header past the end of the file`);
    const lh = await readAt(ra, en.local, 30);
    const lv = new DataView(lh.buffer);
    if (lv.getUint32(0, true) !== LOCAL)
      throw new ZipError(`${where}: record "${en.name}": no local header at ${en.local}`);
    const offset = en.local + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
    if (en.method !== 0) {
      // only the records we read must be stored; note it for them
      out.set(en.name, { name: en.name, offset: -1 - en.method, size: en.size });
      continue;
    }
    if (en.csize !== en.size)
      throw new ZipError(
        `${where}: record "${en.name}" is stored but its sizes differ (${en.csize} != ${en.size})`,
      );
    if (offset + en.size > ra.size)
      throw new ZipError(
        `${where}: record "${en.name}" [${offset}, ${offset + en.size}) runs past the end of the file (${ra.size} bytes): truncated`,
      );
    out.set(en.name, { name: en.name, offset, size: en.size });
  }
  return out;
}

/** A record's bytes must be stored (method 0) to be read in place. */
export function checkStored(rec: ZipRecord, where: string): void {
  if (rec.offset < 0)
    throw new ZipError(
      `${where}: record "${rec.name}" is compressed (method ${-1 - rec.offset}); torch.save stores records uncompressed`,
    );
}
