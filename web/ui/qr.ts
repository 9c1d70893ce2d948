/**
 * QR codes (invite links, safety numbers) as SVG, encoded by @paulmillr/qr. The library gives the module matrix
 * ('raw' output) and the SVG is built here with createElementNS: one <path> whose data is numbers only, so no
 * markup is ever parsed and nothing of the encoded text can become an element or attribute (CSP-clean too: SVG
 * attributes, no style attribute). Always dark on white, whatever the theme, so every scanner reads it.
 */
import encodeQR from '@paulmillr/qr';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An <svg role="img"> QR code of `text`, labelled `label` for screen readers. */
export function qrCode(text: string, label: string): SVGSVGElement {
  // 'medium' error correction: links stay scannable from a slightly blurry phone camera picture of a screen.
  const modules = encodeQR(text, 'raw', { ecc: 'medium', border: 4 });
  const size = modules.length;
  let d = '';
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) d += `M${x} ${y}h1v1h-1z`;
    }),
  );
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('class', 'qr');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('shape-rendering', 'crispEdges');
  const background = document.createElementNS(SVG_NS, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#ffffff');
  const path = document.createElementNS(SVG_NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000000');
  svg.append(background, path);
  return svg;
}
