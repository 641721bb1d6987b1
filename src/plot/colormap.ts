// Colour maps for spectrogram images: a 256-entry RGB lookup table built from a few sRGB stops
// of a perceptually uniform map (magma: dark purple -> orange -> pale yellow; viridis as an
// alternative), linearly interpolated. Pure functions, no canvas.

export type ColormapName = 'magma' | 'viridis' | 'gray';

// 11 evenly spaced sRGB samples (positions 0, 0.1, ..., 1) of each map.
const STOPS: Record<ColormapName, string[]> = {
  magma: ['#000004', '#140e36', '#3b0f70', '#641a80', '#8c2981', '#b73779', '#de4968', '#f7705c', '#fe9f6d', '#fecf92', '#fcfdbf'],
  viridis: ['#440154', '#482475', '#414487', '#355f8d', '#2a788e', '#21918c', '#22a884', '#44bf70', '#7ad151', '#bddf26', '#fde725'],
  gray: ['#000000', '#ffffff'],
};

export const COLORMAP_NAMES = Object.keys(STOPS) as ColormapName[];

function parseHex(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** RGB lookup table: Uint8Array of `size * 3` bytes, entry i for position i / (size - 1). */
export function buildColormapLut(name: ColormapName, size = 256): Uint8Array {
  const stops = STOPS[name].map(parseHex);
  const lut = new Uint8Array(size * 3);
  for (let i = 0; i < size; i++) {
    const position = (i / (size - 1)) * (stops.length - 1);
    const k = Math.min(stops.length - 2, Math.floor(position));
    const frac = position - k;
    for (let c = 0; c < 3; c++) {
      lut[i * 3 + c] = Math.round(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * frac);
    }
  }
  return lut;
}

/** CSS colour of a position in [0, 1] (clamped) of a LUT from buildColormapLut. */
export function lutColorCss(lut: Uint8Array, position: number): string {
  const size = lut.length / 3;
  const i = Math.round(Math.min(1, Math.max(0, position)) * (size - 1));
  return `rgb(${lut[i * 3]}, ${lut[i * 3 + 1]}, ${lut[i * 3 + 2]})`;
}
