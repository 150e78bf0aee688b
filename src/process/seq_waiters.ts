/** One long poll's wait: it has news once an event with a seq above `afterSeq` is appended. */
interface Waiter {
  readonly afterSeq: number;
  readonly wake: () => void;
  live: boolean;
}

/** Below this many entries a heap is never rebuilt to shed removed ones. */
const REBUILD_FLOOR = 64;

/**
 * The long polls waiting on one log, ordered by the seq they wait past (PROTOCOL.md §5.6). An
 * append wakes only the polls it gives news, so a poll that waits past a seq the log has not
 * reached costs nothing per chunk: every append used to wake every poll, and 4,000 polls waiting
 * far ahead of four chatty processes held another client's requests up to a second.
 */
export class SeqWaiters {
  /** A binary min-heap on `afterSeq`; removed entries stay until they surface or a rebuild. */
  #heap: Waiter[] = [];
  #live = 0;

  /** Waiters not yet woken or removed. */
  get size(): number {
    return this.#live;
  }

  /** Adds `wake` for an event past `afterSeq`; the returned function removes it unwoken. */
  add(afterSeq: number, wake: () => void): () => void {
    const waiter: Waiter = { afterSeq, wake, live: true };
    this.#push(waiter);
    this.#live++;
    return () => {
      if (!waiter.live) return;
      waiter.live = false;
      this.#live--;
      if (this.#heap.length > REBUILD_FLOOR && this.#heap.length > 2 * this.#live) this.#rebuild();
    };
  }

  /** Wakes every waiter that an event numbered `seq` gives news (its `afterSeq` is below `seq`). */
  wakeBefore(seq: number): void {
    const woken: Array<() => void> = [];
    for (;;) {
      const top = this.#heap[0];
      if (top === undefined || (top.live && top.afterSeq >= seq)) break;
      this.#pop();
      if (!top.live) continue;
      top.live = false;
      this.#live--;
      woken.push(top.wake);
    }
    for (const wake of woken) wake();
  }

  /** Wakes every waiter (the log closed, or the process recorded a failure). */
  wakeAll(): void {
    const woken = this.#heap.filter((waiter) => waiter.live);
    this.#heap = [];
    this.#live = 0;
    for (const waiter of woken) {
      waiter.live = false;
      waiter.wake();
    }
  }

  #rebuild(): void {
    const live = this.#heap.filter((waiter) => waiter.live);
    this.#heap = [];
    for (const waiter of live) this.#push(waiter);
  }

  #push(waiter: Waiter): void {
    const heap = this.#heap;
    let index = heap.push(waiter) - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent] as Waiter;
      if (above.afterSeq <= waiter.afterSeq) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = waiter;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as Waiter).afterSeq < (heap[left] as Waiter).afterSeq
        ? right
        : left;
      const below = heap[child] as Waiter;
      if (below.afterSeq >= last.afterSeq) break;
      heap[index] = below;
      index = child;
    }
    heap[index] = last;
  }
}
