// The clusters and MirrorMaker 2 of the lagging-groups and offset-lags switchover tests: blue and
// green (one broker each) and MirrorMaker copying blue -> green the topics matching 'lg-.*'. The
// test bed shares clusters and MirrorMakers by name within a run only when their specs are
// identical, so both files take them from here, and their topics must match LAGGING_TOPICS.
//
// MirrorMaker's source consumer reads read_committed: aborted transactions are not copied. Its own
// group-offset sync (sync.group.offsets.enabled, which the test bed turns on by default) is off: it
// would overwrite the offsets a switch installs on green for idle groups, and these tests are about
// the offsets Turnout installs. Checkpoints and offset syncs are still written.
import { testBed, type ClusterDescriptor, type MirrorMakerInfo } from '../../../src/testbed/index.ts';

/** Topics MirrorMaker copies from blue to green: every topic of these tests must match it. */
export const LAGGING_TOPICS = 'lg-.*';

export interface LaggingBed {
  blue: ClusterDescriptor;
  green: ClusterDescriptor;
  mm: MirrorMakerInfo;
}

/** Starts (or, later in the run, joins) blue, green and the blue -> green MirrorMaker. */
export async function laggingBed(): Promise<LaggingBed> {
  const bed = await testBed();
  const [blue, green] = await Promise.all([
    bed.cluster({ name: 'lg-blue', brokers: 1, nodeIdBase: 1 }),
    bed.cluster({ name: 'lg-green', brokers: 1, nodeIdBase: 701 }),
  ]);
  const mm = await bed.mirrorMaker({
    name: 'lg-blue-to-green', source: 'lg-blue', target: 'lg-green', topics: LAGGING_TOPICS,
    config: {
      // The source consumer of the lg-blue -> lg-green flow (MirrorMakerConfig turns
      // "<source alias>.consumer.*" into the source connector's "source.consumer.*", which
      // MirrorSourceConfig.sourceConsumerConfig applies last): copy committed records only.
      'lg-blue.consumer.isolation.level': 'read_committed',
      'sync.group.offsets.enabled': 'false',
    },
  });
  return { blue, green, mm };
}
