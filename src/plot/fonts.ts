// Fonts for plot text. @napi-rs/canvas draws with Skia and only knows fonts that are registered or
// found on the system; DejaVu Sans (Debian fonts-dejavu-core) is registered when present so that
// plots look the same everywhere, otherwise the generic sans-serif family is used.
import { existsSync } from 'node:fs';
import { GlobalFonts } from '@napi-rs/canvas';

const CANDIDATES: Array<{ family: string; regular: string; bold?: string }> = [
  { family: 'DejaVu Sans', regular: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', bold: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf' },
  { family: 'Liberation Sans', regular: '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf', bold: '/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf' },
];

let resolvedFamily: string | undefined;

/** CSS font-family list for plot text; registers a bundled system font on first call. */
export function plotFontFamily(): string {
  if (resolvedFamily !== undefined) return resolvedFamily;
  resolvedFamily = 'sans-serif';
  for (const candidate of CANDIDATES) {
    try {
      if (!existsSync(candidate.regular)) continue;
      if (!GlobalFonts.has(candidate.family)) {
        GlobalFonts.registerFromPath(candidate.regular, candidate.family);
        if (candidate.bold && existsSync(candidate.bold)) GlobalFonts.registerFromPath(candidate.bold, candidate.family);
      }
      resolvedFamily = `"${candidate.family}", sans-serif`;
      break;
    } catch {
      // A font that fails to load is not worth failing a plot for: try the next, else sans-serif.
    }
  }
  return resolvedFamily;
}
