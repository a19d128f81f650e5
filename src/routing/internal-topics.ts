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
