#!/usr/bin/env python3
"""A librdkafka client for Turnout's tests: confluent-kafka-python (from PyPI, with the librdkafka
its wheel bundles; run with the test cache's virtualenv, see python-venv.ts) doing one step and
printing JSON on stdout.

  rdkafka_client.py produce  --bootstrap B --topic T [--timeout-ms MS] [-X key=value ...]
      stdin: one JSON object per line, {"key": "k" or null, "value": "v"}; acks=all.
      stdout: {"acked": N, "records": [{"partition": P, "offset": O}, ...]}
  rdkafka_client.py consume  --bootstrap B --topic T --group G --count N [--timeout-ms MS] [-X ...]
      joins group G, reads N records (earliest when G has no offsets), commits them, leaves.
      stdout: one JSON object per record, {"partition", "offset", "key", "value"}
  rdkafka_client.py metadata --bootstrap B [--timeout-ms MS] [-X ...]
      stdout: {"brokers": [{"nodeId", "host", "port"}], "topics": [...]}
  rdkafka_client.py transactions --bootstrap B --topic T --count N --per-transaction K
                    --abort-every M [--partitions P] [--transactional-id ID] [--timeout-ms MS] [-X ...]
      N transactions of K records each, one after the other, with one transactional producer;
      transaction t (from 0) is aborted when t % M == 0 (M = 0: none is), the others commit. Its
      records are flushed to the log before it ends, so an aborted one's records are written and
      then marked aborted. Values are "T-<t>-<i>", keys "<t>-<i>"; with --partitions P, record i
      of transaction t goes to partition (t * K + i) % P (round robin), else by key.
      stdout: {"committed": [values], "aborted": [values],
               "records": [{"value", "partition", "offset", "outcome"}, ...]}

SASL/PLAIN: -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=U
-X sasl.password=P. Errors go to stderr with exit code 1; a deadline that passes exits with 3.
"""
import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition


def fail(message, code=1):
    sys.stderr.write(f"rdkafka_client: {message}\n")
    sys.stderr.flush()
    sys.exit(code)


def config(args, **extra):
    conf = {"bootstrap.servers": args.bootstrap, "client.id": f"turnout-test-rdkafka-{args.command}"}
    for item in args.X:
        key, sep, value = item.partition("=")
        if not sep:
            fail(f"-X {item}: expected key=value")
        conf[key] = value
    conf.update(extra)
    # Errors librdkafka does not raise (e.g. authentication failures, retried internally) reach
    # stderr, so a timeout's stderr tail says why.
    conf["error_cb"] = lambda err: sys.stderr.write(f"rdkafka error: {err}\n")
    return conf


def text(data):
    return None if data is None else data.decode("utf-8", errors="replace")


def produce(args):
    timeout_s = args.timeout_ms / 1000
    producer = Producer(config(args, **{"acks": "all", "message.timeout.ms": str(args.timeout_ms)}))
    acked, errors = [], []

    def delivered(err, msg):
        if err is not None:
            errors.append(f"{msg.topic()} [{msg.partition()}]: {err}")
        else:
            acked.append({"partition": msg.partition(), "offset": msg.offset()})

    count = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        m = json.loads(line)
        key = m.get("key")
        producer.produce(args.topic, value=m["value"].encode(), key=None if key is None else key.encode(), on_delivery=delivered)
        producer.poll(0)
        count += 1
    remaining = producer.flush(timeout_s)
    if errors:
        fail(f"{len(errors)} of {count} records failed: " + "; ".join(errors[:5]))
    if remaining > 0 or len(acked) < count:
        fail(f"only {len(acked)} of {count} records acknowledged within {args.timeout_ms} ms", 3)
    print(json.dumps({"acked": len(acked), "records": acked}), flush=True)


def consume(args):
    consumer = Consumer(config(args, **{
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": "false",
        "session.timeout.ms": "10000",
        "heartbeat.interval.ms": "1000",
    }))
    deadline = time.monotonic() + args.timeout_ms / 1000
    next_offsets = {}
    consumed = 0
    try:
        consumer.subscribe([args.topic])
        while consumed < args.count:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"only {consumed} of {args.count} records consumed within {args.timeout_ms} ms", 3)
            msg = consumer.poll(min(left, 0.5))
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(msg.error())
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(), "key": text(msg.key()), "value": text(msg.value())}), flush=True)
            next_offsets[msg.partition()] = max(next_offsets.get(msg.partition(), -1), msg.offset() + 1)
            consumed += 1
        if next_offsets:
            committed = consumer.commit(offsets=[TopicPartition(args.topic, p, o) for p, o in next_offsets.items()], asynchronous=False)
            bad = [f"[{tp.partition}] {tp.error}" for tp in committed or [] if tp.error]
            if bad:
                fail("commit failed: " + "; ".join(bad))
    finally:
        consumer.close()  # leaves the group


def transactions(args):
    if args.per_transaction <= 0 or args.count < 0 or args.abort_every < 0:
        fail("transactions needs --count >= 0, --per-transaction > 0 and --abort-every >= 0")
    timeout_s = args.timeout_ms / 1000
    producer = Producer(config(args, **{
        "transactional.id": args.transactional_id or f"turnout-test-rdkafka-txn-{time.time_ns()}",
        "acks": "all",
        "enable.idempotence": "true",
        # At most the transaction timeout (librdkafka refuses a longer one); both within the step.
        "message.timeout.ms": str(min(args.timeout_ms, 60000)),
        "transaction.timeout.ms": str(min(max(args.timeout_ms, 1000), 60000)),
    }))
    deadline = time.monotonic() + timeout_s
    left = lambda: max(0.1, deadline - time.monotonic())
    committed, aborted, records, errors = [], [], [], []

    def delivered(err, msg):
        if err is not None:
            errors.append(f"{msg.topic()} [{msg.partition()}]: {err}")
        else:
            records.append({"value": text(msg.value()), "partition": msg.partition(), "offset": msg.offset()})

    producer.init_transactions(left())
    for t in range(args.count):
        if time.monotonic() > deadline:
            fail(f"only {t} of {args.count} transactions done within {args.timeout_ms} ms", 3)
        abort = args.abort_every > 0 and t % args.abort_every == 0
        producer.begin_transaction()
        values = []
        for i in range(args.per_transaction):
            value = f"T-{t}-{i}"
            kwargs = {"partition": (t * args.per_transaction + i) % args.partitions} if args.partitions else {}
            producer.produce(args.topic, value=value.encode(), key=f"{t}-{i}".encode(), on_delivery=delivered, **kwargs)
            values.append(value)
        remaining = producer.flush(left())
        if remaining > 0:
            fail(f"transaction {t}: {remaining} records not delivered within {args.timeout_ms} ms", 3)
        if errors:
            fail(f"transaction {t}: " + "; ".join(errors[:5]))
        if abort:
            producer.abort_transaction(left())
            aborted.extend(values)
        else:
            producer.commit_transaction(left())
            committed.extend(values)
    outcome = {v: "aborted" for v in aborted}
    for r in records:
        r["outcome"] = outcome.get(r["value"], "committed")
    print(json.dumps({"committed": committed, "aborted": aborted, "records": records}), flush=True)


def metadata(args):
    # A producer handle: it needs no group and fetches metadata on demand.
    producer = Producer(config(args))
    md = producer.list_topics(timeout=args.timeout_ms / 1000)
    brokers = [{"nodeId": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()]
    print(json.dumps({"brokers": brokers, "topics": sorted(md.topics.keys())}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume", "metadata", "transactions"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout-ms", type=int, default=30000)
    parser.add_argument("--per-transaction", type=int, default=1)
    parser.add_argument("--abort-every", type=int, default=0)
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--transactional-id")
    parser.add_argument("-X", action="append", default=[], metavar="key=value", help="librdkafka configuration")
    args = parser.parse_args()
    if args.command in ("produce", "consume", "transactions") and not args.topic:
        fail(f"{args.command} needs --topic")
    if args.command == "consume" and not args.group:
        fail("consume needs --group")
    try:
        {"produce": produce, "consume": consume, "metadata": metadata, "transactions": transactions}[args.command](args)
    except KafkaException as e:
        fail(f"{args.command}: {e}")


if __name__ == "__main__":
    main()
