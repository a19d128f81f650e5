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


def metadata(args):
    # A producer handle: it needs no group and fetches metadata on demand.
    producer = Producer(config(args))
    md = producer.list_topics(timeout=args.timeout_ms / 1000)
    brokers = [{"nodeId": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()]
    print(json.dumps({"brokers": brokers, "topics": sorted(md.topics.keys())}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["produce", "consume", "metadata"])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic")
    parser.add_argument("--group")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--timeout-ms", type=int, default=30000)
    parser.add_argument("-X", action="append", default=[], metavar="key=value", help="librdkafka configuration")
    args = parser.parse_args()
    if args.command in ("produce", "consume") and not args.topic:
        fail(f"{args.command} needs --topic")
    if args.command == "consume" and not args.group:
        fail("consume needs --group")
    try:
        {"produce": produce, "consume": consume, "metadata": metadata}[args.command](args)
    except KafkaException as e:
        fail(f"{args.command}: {e}")


if __name__ == "__main__":
    main()
