// Resolves the Kafka jars of one version from Maven Central into a cache outside the git tree and
// hands back the classpath. Maven runs only on a cache miss: a marker file records that a folder is
// complete and which pom produced it, so an edited pom triggers a fresh resolution.
//
// Two processes may resolve at once (the runner and a test file run alone, or two runs). Each
// resolves into its own temporary folder and renames it into place; rename is atomic, so a reader
// sees either no folder or a complete one, and the loser of the race discards its copy.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { kafkaLine } from './versions.ts';

/** ANSI colour codes (ESC [ ... m), which Maven writes even to a pipe. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is the point of it
const ANSI_COLOURS = /\x1b\[[0-9;]*m/g;

export const POM_PATH = fileURLToPath(new URL('../../kafka/pom.xml', import.meta.url));
const MARKER = 'turnout-resolved.json';

export interface KafkaJars {
  readonly version: string;
  /** Folder holding every jar of this version (broker, tools, MirrorMaker 2, logging). */
  readonly libDir: string;
  /** Java classpath: the lib folder as a wildcard entry. */
  readonly classpath: string;
}

export function cacheDir(): string {
  const env = process.env;
  if (env.TURNOUT_CACHE_DIR) return env.TURNOUT_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'turnout');
}

/** The java executable: $JAVA_HOME/bin/java when set, else java from PATH. */
export function javaExecutable(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'java') : 'java';
}

const inFlight = new Map<string, Promise<KafkaJars>>();

/** Told what a first resolution downloads (one line per jar, then a total); silent on a cache hit. */
export type ResolveProgress = (line: string) => void;

/** Returns the classpath of Kafka `version`, downloading the jars on first use. */
export function resolveKafka(version: string, progress: ResolveProgress = () => {}): Promise<KafkaJars> {
  let pending = inFlight.get(version);
  if (!pending) {
    pending = resolveUncached(version, progress);
    inFlight.set(version, pending);
    pending.catch(() => inFlight.delete(version));
  }
  return pending;
}

/** True when `version` is already in the cache, i.e. resolveKafka will not run Maven. */
export function isKafkaCached(version: string): boolean {
  return readMarker(join(cacheDir(), `kafka-${version}`)) === markerFor(version);
}

async function resolveUncached(version: string, progress: ResolveProgress): Promise<KafkaJars> {
  const line = kafkaLine(version);
  await checkJava();
  const dir = join(cacheDir(), `kafka-${version}`);
  const jars: KafkaJars = { version, libDir: join(dir, 'libs'), classpath: join(dir, 'libs', '*') };
  const marker = markerFor(version);
  if (readMarker(dir) === marker) return jars;

  await mkdir(cacheDir(), { recursive: true });
  const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const started = Date.now();
  progress(`first use of Kafka ${version}: resolving its jars (broker, tools, MirrorMaker 2; about 55 MB) from Maven Central into ${dir}...`);
  const downloads = new DownloadTally(progress);
  try {
    const b = line.logBinding;
    await runMaven(version, downloads, [
      '-B',
      '-f',
      POM_PATH,
      `-Dkafka.version=${version}`,
      `-Dlog.binding.groupId=${b.groupId}`,
      `-Dlog.binding.artifactId=${b.artifactId}`,
      `-Dlog.binding.version=${b.version}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${join(staging, 'libs')}`,
    ]);
    await writeFile(join(staging, MARKER), marker);
    progress(downloads.summary(Date.now() - started));
    if (existsSync(dir)) {
      // Stale (pom changed) or completed by another process meanwhile: a complete current copy wins.
      if (readMarker(dir) === marker) return jars;
      await rename(dir, `${dir}.old-${randomBytes(4).toString('hex')}`).catch(() => {});
    }
    try {
      await rename(staging, dir);
    } catch (err) {
      if (readMarker(dir) !== marker) throw err; // someone else renamed a complete copy in first
    }
    return jars;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function markerFor(version: string): string {
  const pomHash = createHash('sha256').update(readFileSync(POM_PATH)).digest('hex');
  const binding = kafkaLine(version).logBinding;
  return JSON.stringify({ version, pomHash, binding });
}

function readMarker(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, MARKER), 'utf8');
  } catch {
    return undefined;
  }
}

let javaChecked: Promise<void> | undefined;

/** Fails early, with a hint, when no Java 17+ runtime can be started. */
export function checkJava(): Promise<void> {
  javaChecked ??= new Promise<void>((resolve, reject) => {
    const java = javaExecutable();
    const child = spawn(java, ['-version'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', (err) =>
      reject(
        new TestBedError(
          TestBedErrorCode.JavaMissing,
          `Java was not found (tried "${java}"): the Kafka test bed runs brokers and tools on a JVM. ` +
            `Install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME.`,
          { cause: err },
        ),
      ),
    );
    child.on('close', (code) => {
      const major = Number(/version "(\d+)/.exec(out)?.[1]);
      if (code === 0 && major >= 17) resolve();
      else
        reject(
          new TestBedError(
            TestBedErrorCode.JavaMissing,
            `"${java} -version" did not report Java 17 or newer (exit ${code}): ${out.trim()}. ` +
              `Kafka 4.x needs Java 17+; install it or point JAVA_HOME at one.`,
          ),
        );
    });
  });
  return javaChecked;
}

// Maven (batch mode, not -q) prints "Downloaded from central: URL (6.6 MB at 12 MB/s)" per file it
// fetches; the jars among them are what a first run waits for.
const DOWNLOADED = /^\[INFO\] Downloaded from [^:]+: (\S+) \(([\d.]+) (B|kB|MB|GB)/;
const UNIT: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 };

/** Counts what Maven downloads and reports each jar as it arrives. */
export class DownloadTally {
  files = 0;
  bytes = 0;
  readonly #progress: ResolveProgress;
  #partial = '';

  constructor(progress: ResolveProgress) {
    this.#progress = progress;
  }

  push(text: string): void {
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() ?? '';
    for (const raw of lines) {
      const m = DOWNLOADED.exec(raw.replace(ANSI_COLOURS, '').trim());
      if (m === null) continue;
      const size = Number(m[2]) * UNIT[m[3]];
      this.files++;
      this.bytes += size;
      // Kafka's own jars one by one; Maven's plugins and Kafka's dependencies only in the total.
      if (m[1].endsWith('.jar') && m[1].includes('/org/apache/kafka/'))
        this.#progress(`  downloaded ${m[1].slice(m[1].lastIndexOf('/') + 1)} (${formatBytes(size)})`);
    }
  }

  summary(ms: number): string {
    const took = `${(ms / 1000).toFixed(1)} s`;
    return this.files === 0
      ? `Kafka jars copied from the local Maven repository in ${took}`
      : `Kafka jars ready: ${this.files} files (Kafka, its dependencies and Maven's plugins), ${formatBytes(this.bytes)} downloaded in ${took}`;
  }
}

function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1e3))} kB`;
}

function runMaven(version: string, downloads: DownloadTally, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mvn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (d: Buffer) => {
      downloads.push(d.toString());
      out = (out + d.toString()).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (err) =>
      reject(
        new TestBedError(
          TestBedErrorCode.MavenMissing,
          `Maven ("mvn") was not found on PATH; it downloads the Kafka ${version} jars from Maven Central ` +
            `into ${cacheDir()}. Install Maven (e.g. apt-get install maven), or set TURNOUT_CACHE_DIR to a ` +
            `folder that already holds kafka-${version}/libs.`,
          { cause: err },
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) return resolve();
      reject(
        new TestBedError(
          TestBedErrorCode.ResolveFailed,
          `Maven could not resolve the Kafka ${version} jars (mvn exit ${code}, pom ${POM_PATH}). ` +
            `Check that ${version} exists on Maven Central with kafka_2.13, kafka-tools and connect-mirror ` +
            `artifacts and that Maven Central is reachable. Maven said:\n${out.replace(ANSI_COLOURS, '').trim()}`,
        ),
      );
    });
  });
}
