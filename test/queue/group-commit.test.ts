import { GroupCommit } from '../../src/queue/group-commit';

function recorder(delayMs = 5) {
  const writes: number[][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let fail: Error | undefined;
  return {
    writes,
    get maxInFlight() {
      return maxInFlight;
    },
    failNext(error: Error) {
      fail = error;
    },
    async write(rows: number[]) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      inFlight--;
      if (fail) {
        const error = fail;
        fail = undefined;
        throw error;
      }
      writes.push(rows);
    },
  };
}

test('rows that arrive together are written together, and each caller waits for its write', async () => {
  const store = recorder();
  const commit = new GroupCommit<number>((rows) => store.write(rows), {
    maxDelayMs: 5,
    maxRows: 100,
    maxConcurrent: 2,
  });
  let settled = 0;
  const calls = [[1], [2, 3], [4]].map((rows) => commit.add(rows).then(() => settled++));
  expect(settled).toBe(0);
  await Promise.all(calls);
  expect(store.writes).toEqual([[1, 2, 3, 4]]);
});

test('a group never exceeds maxRows, and a caller’s rows are never split', async () => {
  const store = recorder();
  const commit = new GroupCommit<number>((rows) => store.write(rows), {
    maxDelayMs: 50,
    maxRows: 4,
    maxConcurrent: 1,
  });
  await Promise.all([
    commit.add([1, 2, 3]),
    commit.add([4, 5]),
    commit.add([6, 7, 8, 9, 10]),
    commit.add([11]),
  ]);
  expect(store.writes).toEqual([[1, 2, 3], [4, 5], [6, 7, 8, 9, 10], [11]]);
  expect(store.maxInFlight).toBe(1);
});

test('concurrent writes are capped; rows wait and go out when a writer frees up', async () => {
  const store = recorder(10);
  const commit = new GroupCommit<number>((rows) => store.write(rows), {
    maxDelayMs: 0,
    maxRows: 1,
    maxConcurrent: 3,
  });
  await Promise.all(Array.from({ length: 20 }, (_, i) => commit.add([i])));
  expect(store.maxInFlight).toBe(3);
  expect(store.writes.flat().sort((a, b) => a - b)).toEqual(
    Array.from({ length: 20 }, (_, i) => i),
  );
});

test('a failed write rejects every caller in its group, and later writes go on', async () => {
  const store = recorder();
  const commit = new GroupCommit<number>((rows) => store.write(rows), {
    maxDelayMs: 5,
    maxRows: 100,
    maxConcurrent: 1,
  });
  store.failNext(new Error('connection reset'));
  const results = await Promise.allSettled([commit.add([1]), commit.add([2])]);
  expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
  await commit.add([3]);
  expect(store.writes).toEqual([[3]]);
});

test('drain writes what is waiting at once', async () => {
  const store = recorder();
  const commit = new GroupCommit<number>((rows) => store.write(rows), {
    maxDelayMs: 60_000,
    maxRows: 100,
    maxConcurrent: 1,
  });
  const pending = commit.add([1, 2]);
  expect(commit.pendingRows).toBe(2);
  await commit.drain();
  await pending;
  expect(store.writes).toEqual([[1, 2]]);
});
