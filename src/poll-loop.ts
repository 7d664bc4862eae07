/**
 * The loop a polling stage runs: call `iteration` again and again; when it found no work, sleep
 * `idleMs`; when it threw, report the error and sleep a second. stop() wakes the sleepers and
 * waits for the iterations in flight to finish, so a stage stops with its work done.
 */
export interface PollLoopOptions {
  idleMs: number;
  /** Loops running at once (each runs its own iterations). */
  parallel?: number;
  onError: (error: unknown) => void;
}

export class PollLoop {
  #running = false;
  #loops: Promise<void>[] = [];
  #wakers = new Set<() => void>();

  constructor(
    /** Does one unit of work; returns how much it found (0: nothing to do). */
    private readonly iteration: () => Promise<number>,
    private readonly options: PollLoopOptions,
  ) {}

  start(): void {
    this.#running = true;
    this.#loops = Array.from({ length: this.options.parallel ?? 1 }, () => this.#run());
  }

  async stop(): Promise<void> {
    this.#running = false;
    for (const wake of this.#wakers) wake();
    await Promise.all(this.#loops);
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let found: number;
      try {
        found = await this.iteration();
      } catch (error) {
        this.options.onError(error);
        await this.#sleep(1000);
        continue;
      }
      if (found === 0) await this.#sleep(this.options.idleMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#wakers.add(wake);
    });
  }
}
