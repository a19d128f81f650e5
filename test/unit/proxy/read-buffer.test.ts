// The reused read buffers of the data path (src/proxy/read-buffer.ts), driven the way Node drives
// `onread`: buffer() for the next read, a read into it, the callback, buffer() again...

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { READ_BUFFER_BYTES, ReadBuffer } from '../../../src/proxy/read-buffer.ts';

function driven(): { next: () => Buffer; read: (buffer: Buffer, bytes: number) => void; reads: ReadBuffer } {
  const reads = new ReadBuffer();
  const into = reads.readInto(() => true);
  const next = () => (typeof into.buffer === 'function' ? into.buffer() : into.buffer);
  return { next, read: (buffer, bytes) => void into.callback(bytes, buffer), reads };
}

test('a socket whose reads are passed on at once keeps reading into the same buffer', () => {
  const d = driven();
  const first = d.next();
  assert.equal(first.length, READ_BUFFER_BYTES);
  for (let i = 0; i < 5; i++) {
    d.read(first, i === 2 ? first.length : 1000);
    assert.equal(d.next(), first);
  }
});

test('a buffer lent to a socket with queued writes is not read into again until they are written', () => {
  const d = driven();
  const first = d.next();
  const done: (() => void)[] = [];
  const sink = {
    write: (b: Buffer, cb: () => void) => {
      assert.equal(b.length, 0);
      done.push(cb);
      return true;
    },
  } as unknown as Socket;
  d.read(first, 100);
  d.reads.lend(sink);
  const second = d.next();
  assert.notEqual(second, first, 'the next read must not overwrite bytes still queued');
  d.read(second, 100);
  assert.equal(d.next(), second);
  d.reads.lend(sink);
  assert.equal(done.length, 2, 'one empty write per loan marks when the queue is through');
  const third = d.next();
  assert.ok(third !== first && third !== second, 'nothing lent is handed out before its write completes');
  done[0]();
  d.read(third, 100);
  d.reads.lend(sink);
  assert.equal(d.next(), first, 'a returned buffer is reused');
});
