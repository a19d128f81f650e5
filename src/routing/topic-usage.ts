// The topics clients use through a route, with when each was last used. A planned switch waits for
// exactly these to be replicated and preflight checks them, so a topic must count only while
// someone uses it: one produced to once, by mistake or by a test, would otherwise block every
// preflight for the life of the process. A topic is forgotten after `idleMs` without use.
import { DEFAULTS } from '../config/normalize.ts';
import { isInternalTopic } from './internal-topics.ts';

/**
 * Default idle time after which a topic no longer counts as in use (gateway.switchover.topicIdleMs):
 * one hour. Records written an hour ago have been replicated long since wherever MirrorMaker 2 runs
 * at all, so a switch gains nothing by waiting for such a topic, while a topic used once stops
 * blocking preflight within the hour. Consumers fetch all the time, so a topic that is read keeps
 * counting even without writes.
 */
export const DEFAULT_TOPIC_IDLE_MS = DEFAULTS.topicIdleMs;

const MAX_TOPICS = 10_000;

export interface TopicUse {
  topic: string;
  /** ISO time of the last produce, fetch or offset commit seen for it. */
  lastUsed: string;
}

export class TopicUsage {
  idleMs: number;
  /** Topics of the gateway's own (its state topic): internal, like Kafka's and MirrorMaker 2's. */
  readonly gatewayTopics: Set<string>;
  readonly #lastUsed = new Map<string, number>();

  constructor(idleMs: number = DEFAULT_TOPIC_IDLE_MS, gatewayTopics: Set<string> = new Set()) {
    this.idleMs = idleMs;
    this.gatewayTopics = gatewayTopics;
  }

  /** A client produced to, fetched from or committed offsets for `name` at `now`. */
  note(name: string, now: number = Date.now()): void {
    if (isInternalTopic(name, this.gatewayTopics)) return;
    if (!this.#lastUsed.has(name)) {
      this.#expire(now);
      if (this.#lastUsed.size >= MAX_TOPICS) return;
    }
    this.#lastUsed.set(name, now);
  }

  /** Names of the topics in use at `now`. */
  names(now: number = Date.now()): Set<string> {
    this.#expire(now);
    return new Set(this.#lastUsed.keys());
  }

  /** The topics in use with their last-use times, by name. */
  list(now: number = Date.now()): TopicUse[] {
    this.#expire(now);
    return [...this.#lastUsed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([topic, at]) => ({ topic, lastUsed: new Date(at).toISOString() }));
  }

  #expire(now: number): void {
    for (const [name, at] of this.#lastUsed) if (now - at > this.idleMs) this.#lastUsed.delete(name);
  }
}
