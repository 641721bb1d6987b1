// Size limits of analysis figures, in pixels: below the minimum the axes and labels no longer fit;
// above the maximum the canvas and PNG encoder need too much memory. Kept apart from render.ts so
// the CLI can validate options without loading the canvas module.

export const MIN_PLOT_WIDTH = 320;
export const MIN_PLOT_HEIGHT = 240;
export const MAX_PLOT_SIDE = 8000;
