// Reads a QR code the way a phone would: decode the PNG's pixels and locate the code.
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

// jsqr is CommonJS with a `default` property; under NodeNext its typings describe that property.
const jsQR = jsQRModule.default;

export function decodeQrPng(base64: string): string {
  const png = PNG.sync.read(Buffer.from(base64, 'base64'));
  const code = jsQR(
    new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length),
    png.width,
    png.height,
    // Ours are dark on light, as the contract draws them: the inverted search would only
    // add a third to each decode (about a thousand per run).
    { inversionAttempts: 'dontInvert' },
  );
  if (code === null) throw new Error('no QR code found in the PNG');
  return code.data;
}
