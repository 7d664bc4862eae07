/**
 * Runs the tasks given to it one after another, in the order given; a task that fails does not
 * stop the ones after it (its caller gets the failure).
 */
export class OneAtATime {
  #last: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#last.then(task);
    this.#last = result.catch(() => undefined);
    return result;
  }
}
