/** Parses validity periods: '10 years', '90 days', '90d', '36h', '15m', '2y', '1 week', or an absolute date. */
const UNIT_MS: Record<string, number> = {
  s: 1e3, sec: 1e3, second: 1e3,
  m: 60e3, min: 60e3, minute: 60e3,
  h: 3600e3, hour: 3600e3,
  d: 864e5, day: 864e5,
  w: 7 * 864e5, week: 7 * 864e5,
  mo: 30 * 864e5, month: 30 * 864e5,
  y: 365 * 864e5, year: 365 * 864e5,
};

import { checkX509Date } from "./validate.js";

/** Returns the instant `spec` names, counted from `from` for durations; refuses one X.509 cannot carry. */
export function parseExpiry(spec: string, from: Date = new Date()): Date {
  return checkX509Date(parseInstant(spec, from), `"${spec.trim().slice(0, 40)}" gives`);
}

function parseInstant(spec: string, from: Date): Date {
  const s = spec.trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+?)s?$/.exec(s);
  if (m && UNIT_MS[m[2]] !== undefined) {
    const ms = Number(m[1]) * UNIT_MS[m[2]];
    if (!(ms > 0)) throw new Error(`invalid duration "${spec}": must be positive`);
    if (m[2] === "y" || m[2] === "year") {
      const d = new Date(from);
      d.setUTCFullYear(d.getUTCFullYear() + Number(m[1]));
      if (Number.isInteger(Number(m[1]))) return d;
    }
    return new Date(from.getTime() + ms);
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(s)) {
    const d = new Date(spec.trim());
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new Error(`invalid duration or date "${spec}": use e.g. '10 years', '90d', '36h', '15m' or 2030-01-01`);
}

/** Parses a plain duration into milliseconds ('30d', '12h'). */
export function parseDurationMs(spec: string): number {
  const from = new Date(0);
  const d = parseExpiry(spec, from);
  if (/^\d{4}-/.test(spec.trim())) throw new Error(`invalid duration "${spec}": expected e.g. '30d'`);
  return d.getTime() - from.getTime();
}
