/** Scale and path arithmetic for LineChart, kept apart so it can be tested alone. */

/** The smallest "nice" number (1, 2, 2.5, 5 × 10^n) at or above `value`. */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * magnitude) return step * magnitude;
  }
  return 10 * magnitude;
}

/** SVG path for one series; null values break the line. */
export function linePath(
  values: (number | null)[],
  slots: number,
  maxY: number,
  width: number,
  height: number,
): string {
  const x = (i: number) => (slots <= 1 ? width : (i / (slots - 1)) * width);
  const y = (v: number) => height - (Math.min(v, maxY) / maxY) * height;
  const offset = slots - values.length;
  let path = '';
  let drawing = false;
  values.forEach((value, i) => {
    if (value === null) {
      drawing = false;
      return;
    }
    path += `${drawing ? 'L' : 'M'}${x(i + offset).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

/** An axis label: "0", "2.5", "0.25", "1.5k" (no rounding that would mislabel a grid line). */
export function tickLabel(value: number): string {
  if (value === 0) return '0';
  if (value >= 1000) return `${Number((value / 1000).toFixed(2))}k`;
  return String(Number(value.toFixed(2)));
}
