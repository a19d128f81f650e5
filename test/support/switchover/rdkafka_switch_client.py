#!/usr/bin/python3
"""A long-running librdkafka client (confluent-kafka-python, Debian's python3-confluent-kafka) for
the switchover tests: ONE process with a producer and a group consumer, kept running across a
route switch. Driven by test/support/switchover/rdkafka.ts.

  rdkafka_switch_client.py --bootstrap B --topic T --group G [--interval-ms MS] [-X key=value ...]

The producer (acks=all, librdkafka's defaults otherwise) sends one record every MS milliseconds,
value "r-<seq>"; the consumer (auto.offset.reset=earliest, auto-commit) reads T in group G.
stdout, one JSON object per line:
  {"ack": seq, "partition", "offset", "sentAt", "ackAt"} / {"sendError": seq, "error", "sentAt"}
  {"consumed": value, "partition", "offset", "at"}        / {"consumerError": "..."}
  {"errorCb": "...", "at"}         librdkafka's error callback (client-level errors)
  {"assigned": [...]} / {"revoked": [...]} / {"lost": [...]}   group membership changes
  {"clusterId": {"producer": id, "consumer": id}, "brokers": [...]}   answer to "cluster-id"
stdin, one command per line: "cluster-id" (list_topics() on both handles), "stop-producing" (stop
producing and flush, print {"producerStopped": true, "sent": N, "unflushed": M}; the consumer keeps
consuming), "stop" (or end of input): stop producing, flush, close the consumer, print
{"done": true, "sent": N}, exit 0.
librdkafka's own log goes to stderr.
"""
import argparse
import json
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer

out_lock = threading.Lock()
stopping = threading.Event()
stop_producing = threading.Event()
commands = []
commands_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def now_ms():
    return int(time.time() * 1000)


def base_config(args, role):
    conf = {"bootstrap.servers": args.bootstrap, "client.id": f"turnout-switch-rdkafka-{role}"}
    for item in args.X:
        key, _, value = item.partition("=")
        conf[key] = value
    conf["error_cb"] = lambda err: emit({"errorCb": f"{role}: {err}", "at": now_ms()})
    return conf


def read_stdin():
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "stop":
            break
        if cmd == "stop-producing":
            stop_producing.set()
        elif cmd:
            with commands_lock:
                commands.append(cmd)
    stopping.set()


def consume(consumer):
    while not stopping.is_set():
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                emit({"consumerError": str(msg.error()), "at": now_ms()})
            continue
        value = None if msg.value() is None else msg.value().decode("utf-8", errors="replace")
        emit({"consumed": value, "partition": msg.partition(), "offset": msg.offset(), "at": now_ms()})


def cluster_ids(producer, consumer):
    result = {}
    brokers = []
    for name, handle in (("producer", producer), ("consumer", consumer)):
        try:
            md = handle.list_topics(timeout=10)
            result[name] = md.cluster_id
            if name == "producer":
                brokers = sorted([{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()], key=lambda b: b["id"])
        except Exception as e:  # noqa: BLE001 - reported, the test decides
            result[name] = None
            result[name + "Error"] = str(e)
    emit({"clusterId": result, "brokers": brokers, "at": now_ms()})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--interval-ms", type=int, default=50)
    parser.add_argument("-X", action="append", default=[], metavar="key=value")
    args = parser.parse_args()

    producer = Producer({**base_config(args, "producer"), "acks": "all"})
    consumer = Consumer({
        **base_config(args, "consumer"),
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": "10000",
        "heartbeat.interval.ms": "1000",
    })

    def on_assign(_c, partitions):
        emit({"assigned": [p.partition for p in partitions], "at": now_ms()})

    def on_revoke(_c, partitions):
        emit({"revoked": [p.partition for p in partitions], "at": now_ms()})

    def on_lost(_c, partitions):
        emit({"lost": [p.partition for p in partitions], "at": now_ms()})

    consumer.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    consumer_thread = threading.Thread(target=consume, args=(consumer,), name="consumer", daemon=True)
    consumer_thread.start()
    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
    emit({"started": True})

    seq = 0
    while not stopping.is_set() and not stop_producing.is_set():
        s = seq
        seq += 1
        sent_at = now_ms()

        def delivered(err, msg, s=s, sent_at=sent_at):
            if err is not None:
                emit({"sendError": s, "error": str(err), "sentAt": sent_at})
            else:
                emit({"ack": s, "partition": msg.partition(), "offset": msg.offset(), "sentAt": sent_at, "ackAt": now_ms()})

        try:
            producer.produce(args.topic, value=f"r-{s}".encode(), key=f"k{s}".encode(), on_delivery=delivered)
        except BufferError as e:
            emit({"sendError": s, "error": f"local queue full: {e}", "sentAt": sent_at})
        with commands_lock:
            pending = commands[:]
            commands.clear()
        for cmd in pending:
            if cmd == "cluster-id":
                cluster_ids(producer, consumer)
        deadline = time.monotonic() + args.interval_ms / 1000
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            producer.poll(left)

    remaining = producer.flush(30)
    if not stopping.is_set():
        emit({"producerStopped": True, "sent": seq, "unflushed": remaining, "at": now_ms()})
        stopping.wait()
    consumer_thread.join(5)
    consumer.close()
    emit({"done": True, "sent": seq, "unflushed": remaining})


if __name__ == "__main__":
    main()
