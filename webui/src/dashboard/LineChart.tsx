/** A small dependency-free SVG line chart: a few series over the last minute. */
import { useRef } from 'react';
import { useElementWidth } from '../lib/useElementWidth';
import { linePath, niceCeiling, tickLabel } from './chartMath';

export interface ChartSeries {
  key: string;
  label: string;
  color: string;
  values: (number | null)[];
}

const DEFAULT_WIDTH = 640;
const PAD = { top: 12, right: 12, bottom: 22, left: 44 };

/** A series that stayed at zero (or has no data) is left out of the plot, not the legend. */
function flat(series: ChartSeries): boolean {
  return series.values.every((value) => value === null || value === 0);
}

export function LineChart({
  title,
  unit,
  series,
  slots,
  height = 180,
  formatValue,
  testId,
}: {
  title: string;
  unit: string;
  series: ChartSeries[];
  /** Number of x positions in the window; a series shorter than this is drawn from the right. */
  slots: number;
  height?: number;
  formatValue: (value: number) => string;
  testId?: string;
}) {
  const figureRef = useRef<HTMLElement>(null);
  // Drawn at its real pixel width so the labels keep their size on a phone.
  const width = useElementWidth(figureRef, DEFAULT_WIDTH);
  const plotWidth = Math.max(60, width - PAD.left - PAD.right);
  const plotHeight = height - PAD.top - PAD.bottom;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  const maxY = niceCeiling(max);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxY);
  const latest = (s: ChartSeries) => {
    for (let i = s.values.length - 1; i >= 0; i -= 1) {
      const v = s.values[i];
      if (v !== null && v !== undefined) return v;
    }
    return null;
  };
  const summary = series
    .map((s) => {
      const value = latest(s);
      return `${s.label} ${value === null ? 'no data' : formatValue(value)}`;
    })
    .join(', ');

  return (
    <figure className="chart" data-testid={testId} ref={figureRef}>
      <figcaption className="chart__title">
        {title} <span className="chart__unit">({unit})</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${plotWidth + PAD.left + PAD.right} ${height}`}
        className="chart__svg"
        role="img"
        aria-label={`${title}, latest: ${summary}`}
      >
        <g transform={`translate(${PAD.left},${PAD.top})`}>
          {ticks.map((tick) => {
            const y = plotHeight - (tick / maxY) * plotHeight;
            return (
              <g key={tick}>
                <line x1={0} x2={plotWidth} y1={y} y2={y} className="chart__grid" />
                <text x={-6} y={y} className="chart__tick" textAnchor="end" dominantBaseline="middle">
                  {tickLabel(tick)}
                </text>
              </g>
            );
          })}
          <text x={0} y={plotHeight + 16} className="chart__tick">
            −{Math.max(0, slots - 1)} s
          </text>
          <text x={plotWidth} y={plotHeight + 16} className="chart__tick" textAnchor="end">
            now
          </text>
          {series.filter((s) => !flat(s)).map((s) => (
            <path
              key={s.key}
              d={linePath(s.values, slots, maxY, plotWidth, plotHeight)}
              stroke={s.color}
              className="chart__line"
              data-series={s.key}
            />
          ))}
        </g>
      </svg>
      <ul className="legend">
        {series.map((s) => {
          const value = latest(s);
          return (
            <li key={s.key} className={flat(s) ? 'legend__item legend__item--flat' : 'legend__item'}>
              <span className="legend__swatch" style={{ background: s.color }} aria-hidden="true" />
              {s.label}
              <span className="legend__value" data-testid={testId ? `${testId}-${s.key}` : undefined}>
                {value === null ? '–' : formatValue(value)}
              </span>
            </li>
          );
        })}
      </ul>
    </figure>
  );
}
