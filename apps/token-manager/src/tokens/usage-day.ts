/**
 * The quota day a moment belongs to. Daily usage resets at `resetHour` o'clock in `timeZone`, so
 * the day is the local calendar date of (moment − resetHour). Usage rows remember the day they
 * count; a row from an earlier day counts as zero — the reset happens lazily, race-free, with no
 * scheduler to coordinate across replicas.
 */
export function usageDayOf(moment: Date, timeZone: string, resetHour: number): string {
  const shifted = new Date(moment.getTime() - resetHour * 3_600_000);
  const parts = dateFormat(timeZone).formatToParts(shifted);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')}`;
}

// Building an Intl.DateTimeFormat costs far more than formatting with one (it showed as a tenth of
// token-manager's CPU when built per usage report), and a service uses one or two time zones.
const dateFormats = new Map<string, Intl.DateTimeFormat>();
function dateFormat(timeZone: string): Intl.DateTimeFormat {
  let format = dateFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    dateFormats.set(timeZone, format);
  }
  return format;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Today's quota day under the service's reset settings; injected so tests can move the clock. */
export class QuotaCalendar {
  private known: { minute: number; day: string } | undefined;

  constructor(
    private readonly timeZone: string,
    private readonly resetHour: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Kept for the current minute: a day starts at a whole hour of a zone whose offset is whole
   * minutes, so it never changes within one, and `formatToParts` per call was a tenth of
   * token-manager's CPU on a paged list.
   */
  today(): string {
    const now = this.now();
    const minute = Math.floor(now.getTime() / 60_000);
    if (this.known?.minute !== minute) this.known = { minute, day: usageDayOf(now, this.timeZone, this.resetHour) };
    return this.known.day;
  }
}
