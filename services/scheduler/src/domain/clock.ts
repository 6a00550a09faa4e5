/** Where the planner gets "now". Production uses the system clock; tests drive a manual one. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  private t: number;

  constructor(start: Date | string | number) {
    this.t = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.t);
  }

  set(to: Date | string | number): void {
    this.t = new Date(to).getTime();
  }

  advance(ms: number): Date {
    this.t += ms;
    return this.now();
  }
}
