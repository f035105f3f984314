// QR codes are answered as base64 PNG, as the seed did. Error correction M, a 4-module
// quiet zone and 6 pixels per module scan reliably from a screen. The qrcode package
// computes the symbol; the PNG is written here as 1-bit greyscale (black on white), which
// is what a QR code is: the package's own PNG output is 32-bit RGBA through pngjs, and
// compressing those ~400 KB of pixels took most of generate-2fa's time (bench/README.md).
import { crc32, deflateSync } from 'node:zlib';
import QRCode from 'qrcode';

const SCALE = 6;
const MARGIN = 4;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The symbol's modules (1 = dark) as a 1-bit greyscale PNG, SCALE pixels per module. */
export function qrPng(text: string): Buffer {
  const { size, data } = QRCode.create(text, { errorCorrectionLevel: 'M' }).modules;
  const pixels = (size + 2 * MARGIN) * SCALE;
  const rowBytes = 1 + Math.ceil(pixels / 8); // filter byte (0, none), then 8 pixels per byte
  const raw = Buffer.alloc(rowBytes * pixels, 0xff); // 1 bits: white
  for (let y = 0; y < pixels; y++) raw[y * rowBytes] = 0;
  for (let row = 0; row < size; row++) {
    const first = (row + MARGIN) * SCALE * rowBytes;
    for (let col = 0; col < size; col++) {
      if (data[row * size + col] !== 1) continue;
      for (let x = (col + MARGIN) * SCALE, end = x + SCALE; x < end; x++) {
        raw[first + 1 + (x >> 3)] = (raw[first + 1 + (x >> 3)] as number) & ~(0x80 >> (x & 7));
      }
    }
    // The module row's other SCALE - 1 pixel rows are copies of its first.
    for (let copy = 1; copy < SCALE; copy++) raw.copy(raw, first + copy * rowBytes, first, first + rowBytes);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(pixels, 0);
  header.writeUInt32BE(pixels, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export async function qrPngBase64(text: string): Promise<string> {
  return qrPng(text).toString('base64');
}
