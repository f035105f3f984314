// QR codes are answered as base64 PNG, as the seed did. Error correction M and a 4-module
// quiet zone scan reliably from a screen.
import QRCode from 'qrcode';

export async function qrPngBase64(text: string): Promise<string> {
  const png = await QRCode.toBuffer(text, { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 6 });
  return png.toString('base64');
}
