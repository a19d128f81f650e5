// Topics that belong to Kafka, to MirrorMaker 2 or to the gateway, not to clients: never counted
// as topics in use (a planned switch would wait for them to exist on the other side, and
// MirrorMaker 2's heartbeats topic never does), whoever asks about them.
const MM2_INTERNAL = /^mm2-(offset-syncs\..+\.internal|configs\..+|offsets\..+|status\..+)$/;

export function isInternalTopic(name: string, gatewayTopics: ReadonlySet<string> = new Set()): boolean {
  return (
    name.startsWith('__') || // Kafka's own: __consumer_offsets, __transaction_state, __share_group_state, ...
    gatewayTopics.has(name) ||
    name === 'heartbeats' ||
    name.endsWith('.heartbeats') ||
    name.endsWith('.checkpoints.internal') ||
    MM2_INTERNAL.test(name)
  );
}

// As control/mirror-maker.ts reads them (OFFSET_SYNCS_TOPIC, CHECKPOINTS_TOPIC).
const OFFSET_SYNCS = /^mm2-offset-syncs\..+\.internal$/;
const CHECKPOINTS = /^.+\.checkpoints\.internal$/;

/**
 * MirrorMaker 2's offset syncs (`mm2-offset-syncs.<alias>.internal`) and checkpoints
 * (`<alias>.checkpoints.internal`): the evidence a planned switch translates consumer offsets
 * with (control/mirror-maker.ts reads them). Clients of a route may read them, never write them.
 */
export function isOffsetTranslationEvidence(name: string): boolean {
  // Called for every topic of every Produce request: most names fail the first test.
  return name.endsWith('.internal') && (OFFSET_SYNCS.test(name) || CHECKPOINTS.test(name));
}
