/**
 * Finds an Ogg stream behind leading bytes that are not Ogg (a stray tag, the tail of another file).
 * ffmpeg's Ogg demuxer reads such a file whole once chosen, since it resyncs on the next page, but
 * its probe only looks for a page at byte 0, so the file is "not a format we recognise". A page is
 * only taken as proof when its checksum holds: four bytes that spell "OggS" by chance are not.
 */

/** ffmpeg's Ogg demuxer gives up looking for a page after about this many bytes. */
export const OGG_SYNC_SEARCH_BYTES = 65_536;

const CAPTURE = Buffer.from('OggS', 'ascii');
const PAGE_HEADER_BYTES = 27;

/** CRC-32 as Ogg computes it: polynomial 0x04c11db7, no reflection, zero start, no final xor. */
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function oggCrc(page: Buffer): number {
  let crc = 0;
  for (let i = 0; i < page.length; i++) {
    // The checksum field (bytes 22-25) counts as zero.
    const byte = i >= 22 && i < 26 ? 0 : page[i]!;
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  }
  return crc;
}

/** The length of a whole, checksum-valid Ogg page at `at`, or null. */
function pageAt(head: Buffer, at: number): number | null {
  if (at + PAGE_HEADER_BYTES > head.length || !head.subarray(at, at + 4).equals(CAPTURE)) return null;
  if (head[at + 4] !== 0 || (head[at + 5]! & ~0x07) !== 0) return null;
  const segments = head[at + 26]!;
  const tableEnd = at + PAGE_HEADER_BYTES + segments;
  if (tableEnd > head.length) return null;
  let bodyBytes = 0;
  for (let i = at + PAGE_HEADER_BYTES; i < tableEnd; i++) bodyBytes += head[i]!;
  const end = tableEnd + bodyBytes;
  if (end > head.length) return null;
  const page = head.subarray(at, end);
  return oggCrc(page) === head.readUInt32LE(at + 22) ? end - at : null;
}

/**
 * The offset of the first checksum-valid Ogg page within the first OGG_SYNC_SEARCH_BYTES of `head`
 * (which should hold those bytes plus one page, 65,307 bytes at most), or null if there is none.
 */
export function findOggPage(head: Buffer): number | null {
  const limit = Math.min(head.length, OGG_SYNC_SEARCH_BYTES);
  for (let at = head.indexOf(CAPTURE); at !== -1 && at < limit; at = head.indexOf(CAPTURE, at + 1)) {
    if (pageAt(head, at) !== null) return at;
  }
  return null;
}

/** Bytes to read from the start of a file for findOggPage. */
export const OGG_SYNC_READ_BYTES = OGG_SYNC_SEARCH_BYTES + PAGE_HEADER_BYTES + 255 + 255 * 255;
