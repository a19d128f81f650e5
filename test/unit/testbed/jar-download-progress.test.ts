// The first download of Kafka's jars says what it fetches: Kafka's own jars one by one with their
// size (from Maven's "Downloaded from" lines, even when they arrive split across reads), and a total.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DownloadTally } from '../../../src/testbed/jars.ts';

const CENTRAL = 'https://repo.maven.apache.org/maven2';

test('Kafka jars are listed with their size; poms and other jars only count in the total', () => {
  const lines: string[] = [];
  const tally = new DownloadTally((l) => lines.push(l));
  const out = [
    `[INFO] Downloading from central: ${CENTRAL}/org/apache/kafka/kafka-clients/4.3.1/kafka-clients-4.3.1.jar`,
    `[INFO] Downloaded from central: ${CENTRAL}/org/apache/kafka/kafka-clients/4.3.1/kafka-clients-4.3.1.pom (1.9 kB at 20 kB/s)`,
    `[INFO] Downloaded from central: ${CENTRAL}/org/apache/kafka/kafka-clients/4.3.1/kafka-clients-4.3.1.jar (10.0 MB at 12 MB/s)`,
    `\x1b[1;34m[INFO]\x1b[m Downloaded from central: ${CENTRAL}/org/scala-lang/scala-library/2.13.18/scala-library-2.13.18.jar (5.9 MB at 9 MB/s)`,
    `[INFO] Downloaded from central: ${CENTRAL}/org/apache/kafka/kafka-tools/4.3.1/kafka-tools-4.3.1.jar (699 kB at 3 MB/s)`,
    '',
  ].join('\n');
  tally.push(out.slice(0, 150)); // Maven's output arrives in arbitrary pieces
  tally.push(out.slice(150));
  assert.deepEqual(lines, ['  downloaded kafka-clients-4.3.1.jar (10.0 MB)', '  downloaded kafka-tools-4.3.1.jar (699 kB)']);
  assert.equal(tally.files, 4);
  assert.match(tally.summary(7900), /^Kafka jars ready: 4 files .*, 16\.6 MB downloaded in 7\.9 s$/);
  assert.equal(new DownloadTally(() => {}).summary(1200), 'Kafka jars copied from the local Maven repository in 1.2 s');
});
