// Regenerates src/protocol/generated/ from the JSON message definitions inside Apache Kafka's
// kafka-clients jar (resolved with Maven, cached outside the repository), and the table of
// Kafka's error codes from the same jar (tools/codegen/errors.ts).
//
//   npm run generate                      write the generated code
//   npm run generate -- --check           exit 1 when the committed code differs
//   npm run generate -- --kafka-version X use another Kafka release's definitions
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { emitIndex, emitMessage, emitSchema } from './emit-index.ts';
import { moduleFileName } from './emit-message.ts';
import { emitErrors, loadErrors } from './errors.ts';
import { isEmpty, type MessageSpec, parseMessage } from './spec.ts';

/** The Kafka release whose definitions the committed codec is generated from. */
export const CODEC_KAFKA_VERSION = '4.3.1';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GENERATED_DIR = join(repoRoot, 'src', 'protocol', 'generated');

function cacheDir(): string {
  return process.env.TURNOUT_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'turnout');
}

/** Path of the kafka-clients jar of `version`, downloading it with Maven on first use. */
export function kafkaClientsJar(version: string): string {
  const dir = join(cacheDir(), 'kafka-clients');
  const jar = join(dir, `kafka-clients-${version}.jar`);
  if (existsSync(jar)) return jar;
  mkdirSync(dir, { recursive: true });
  const staging = mkdtempSync(join(dir, '.download-'));
  try {
    execFileSync(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        join(repoRoot, 'kafka', 'pom.xml'),
        'dependency:copy',
        `-Dartifact=org.apache.kafka:kafka-clients:${version}`,
        `-DoutputDirectory=${staging}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    renameSync(join(staging, `kafka-clients-${version}.jar`), jar);
  } catch (err) {
    const out = err instanceof Error && 'stdout' in err ? String((err as { stdout: unknown }).stdout) : '';
    throw new Error(`could not resolve org.apache.kafka:kafka-clients:${version} with Maven (is mvn installed and Maven Central reachable?)\n${out}`, {
      cause: err,
    });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return jar;
}

/** Reads every common/message/*.json of the jar. */
export function loadSpecs(version: string): MessageSpec[] {
  const jar = kafkaClientsJar(version);
  const dir = mkdtempSync(join(tmpdir(), 'turnout-codegen-'));
  try {
    execFileSync('jar', ['xf', jar, 'common/message'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const msgDir = join(dir, 'common', 'message');
    return readdirSync(msgDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => parseMessage(readFileSync(join(msgDir, f), 'utf8'), f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every generated file, path relative to GENERATED_DIR -> content. */
export function generate(version: string): Map<string, string> {
  const specs = loadSpecs(version).filter((s) => !isEmpty(s.validVersions));
  const files = new Map<string, string>();
  for (const s of specs) files.set(join('messages', moduleFileName(s)), emitMessage(s, version));
  files.set('index.ts', emitIndex(specs, version));
  files.set('schema.ts', emitSchema(specs, version));
  files.set('errors.ts', emitErrors(loadErrors(kafkaClientsJar(version), join(repoRoot, 'kafka', 'pom.xml'), cacheDir()), version));
  return files;
}

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? listFiles(join(dir, d.name), join(prefix, d.name)) : [join(prefix, d.name)],
  );
}

/** Files that differ between what the generator produces and what is on disk. */
export function staleFiles(version: string): string[] {
  const files = generate(version);
  const onDisk = new Set(listFiles(GENERATED_DIR));
  const stale: string[] = [];
  for (const [rel, content] of files) {
    const p = join(GENERATED_DIR, rel);
    if (!onDisk.has(rel) || readFileSync(p, 'utf8') !== content) stale.push(rel);
    onDisk.delete(rel);
  }
  stale.push(...[...onDisk].map((f) => `${f} (not produced by the generator)`));
  return stale;
}

function main(): void {
  const { values } = parseArgs({
    options: { check: { type: 'boolean', default: false }, 'kafka-version': { type: 'string', default: CODEC_KAFKA_VERSION } },
  });
  const version = values['kafka-version'];
  if (values.check) {
    const stale = staleFiles(version);
    if (stale.length > 0) {
      console.error(`generated code is out of date (${stale.length} files); run npm run generate:\n  ${stale.join('\n  ')}`);
      process.exit(1);
    }
    console.log('generated code is up to date');
    return;
  }
  const files = generate(version);
  rmSync(GENERATED_DIR, { recursive: true, force: true });
  for (const [rel, content] of files) {
    const p = join(GENERATED_DIR, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  console.log(`wrote ${files.size} files to ${GENERATED_DIR} from Apache Kafka ${version}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
