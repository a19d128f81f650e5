// Port-based broker identification: broker n of the upstream cluster is served on gateway port
// base + (n mod count). The rule is a pure function of the node id, so every worker and every
// gateway instance of a fleet gives a broker the same port without sharing any state.
export class BrokerPorts {
  readonly base: number;
  readonly count: number;

  constructor(base: number, count: number) {
    this.base = base;
    this.count = count;
  }

  slotOf(nodeId: number): number {
    return ((nodeId % this.count) + this.count) % this.count;
  }

  portOf(nodeId: number): number {
    return this.base + this.slotOf(nodeId);
  }

  /** The slot of a gateway port, or -1 when the port is not in the range. */
  slotOfPort(port: number): number {
    const s = port - this.base;
    return s >= 0 && s < this.count ? s : -1;
  }

  ports(): number[] {
    return Array.from({ length: this.count }, (_, i) => this.base + i);
  }
}
