/**
 * The provenance answer's bounds (protocol/answer.ts), in a module of their own: the verifier and the page's script
 * read them in the browser, where the answer's schema (and TypeBox behind it) must not be bundled.
 */
/**
 * How much one answer carries, whatever the lot: every list in it is bounded, so no lot's answer can outgrow what the
 * server can build or a phone can check. A lot's lifecycle facts are shown in full up to `lifecycleEntries` (a lot
 * with more is refused, 422 ANSWER_TOO_LARGE); its observations as a summary, the newest few and cursor pages.
 */
export const ANSWER_LIMITS = {
  /** Lifecycle entries in one answer (own, created, consumed and inherited together). */
  lifecycleEntries: 1000,
  /** The newest Observed entries shown in full in the timeline. */
  newestObservations: 5,
  /** Reading types summarised (the most counted first). */
  readingTypes: 16,
  /** Reading types with a chart series. */
  chartTypes: 4,
  /** Points in one chart series. */
  chartPoints: 96,
  /** Hours of readings a series is drawn from (the newest). */
  chartHours: 24 * 90,
  /** Observations in one page, at most and by default. */
  pageMax: 200,
  pageDefault: 100,
} as const;
