#!/usr/bin/env python3
"""A long-running librdkafka client (confluent-kafka-python from PyPI, run with the test cache's
virtualenv) for the switchover tests: ONE process with a producer and a group consumer, kept
running across a route switch. Driven by test/support/switchover/rdkafka.ts.

  rdkafka_switch_client.py --bootstrap B --topic T --group G [--interval-ms MS] [--value-bytes N] [-X key=value ...]

The producer (acks=all, librdkafka's defaults otherwise) sends one record every MS milliseconds,
value "r-<seq>"; the consumer (auto.offset.reset=earliest, auto-commit) reads T in group G. -X
settings go to both handles (e.g. enable.idempotence=true, compression.type=lz4); with
-X group.protocol=consumer (KIP-848) the consumer gets no session.timeout.ms and
heartbeat.interval.ms, which that protocol does not take (the broker decides them).
--value-bytes N pads each value to N bytes ("r-<seq> " and a repeated text), as payloads that
compression has something to do with: librdkafka sends a batch uncompressed when compressing
does not make it smaller, which a few bytes never do. Consumed values are reported up to the
first space, so "consumed" is "r-<seq>" either way.
stdout, one JSON object per line:
  {"ack": seq, "partition", "offset", "sentAt", "ackAt"} / {"sendError": seq, "error", "sentAt"}
  {"consumed": value, "partition", "offset", "at"}        / {"consumerError": "..."}
  {"errorCb": "...", "at"}         librdkafka's error callback (client-level errors)
  {"fatal": "...", "role", "at"}   a fatal error (KafkaError.fatal(): the handle is unusable from
                                   then on); a producer stops producing after one
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
import queue
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer

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


fatal_seen = set()


def fatal(role, err):
    """Reports a fatal error once per handle and message."""
    text = str(err)
    if (role, text) in fatal_seen:
        return
    fatal_seen.add((role, text))
    emit({"fatal": f"{role}: {text}", "role": role, "at": now_ms()})


def is_fatal(err):
    # A consumer's fatal error (e.g. GROUP_ID_NOT_FOUND on ConsumerGroupHeartbeat) reaches the
    # application as code _FATAL without the fatal flag set.
    return err.fatal() or err.code() == KafkaError._FATAL


def on_error(role, err):
    emit({"errorCb": f"{role}: {err}", "at": now_ms()})
    if is_fatal(err):
        fatal(role, err)


def settings(args):
    conf = {}
    for item in args.X:
        key, _, value = item.partition("=")
        conf[key] = value
    return conf


def base_config(args, role):
    conf = {"bootstrap.servers": args.bootstrap, "client.id": f"turnout-switch-rdkafka-{role}", **settings(args)}
    conf["error_cb"] = lambda err: on_error(role, err)
    return conf


PADDING = " order line: 3 x widget, unit price 9.99 EUR, ship to warehouse 7, priority normal;"


def padded(value, size):
    data = value.encode()
    if len(data) >= size:
        return data
    pad = PADDING.encode() * (size // len(PADDING) + 1)
    return (data + pad)[:size]


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


# Calls on the consumer other than poll() run on the consumer thread, between polls: with
# confluent-kafka 2.16, Consumer.list_topics() from another thread while poll() runs deadlocks
# the process (both threads stuck for good; seen with faulthandler).
consumer_calls = queue.Queue()


def on_consumer_thread(call, timeout):
    """Runs call(consumer) on the consumer thread; its result, or raises what it raised."""
    done = threading.Event()
    box = {}

    def run(consumer):
        try:
            box["result"] = call(consumer)
        except Exception as e:  # noqa: BLE001 - handed to the caller
            box["error"] = e
        done.set()

    consumer_calls.put(run)
    if not done.wait(timeout):
        raise TimeoutError(f"the consumer thread did not run the call within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def consume(consumer):
    while not stopping.is_set():
        while not consumer_calls.empty():
            consumer_calls.get_nowait()(consumer)
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                emit({"consumerError": str(msg.error()), "at": now_ms()})
                if is_fatal(msg.error()):
                    fatal("consumer", msg.error())
            continue
        value = None if msg.value() is None else msg.value().decode("utf-8", errors="replace").split(" ", 1)[0]
        emit({"consumed": value, "partition": msg.partition(), "offset": msg.offset(), "at": now_ms()})


def cluster_ids(producer, consumer):
    result = {}
    brokers = []
    calls = (("producer", lambda: producer.list_topics(timeout=10)),
             ("consumer", lambda: on_consumer_thread(lambda c: c.list_topics(timeout=10), 15)))
    for name, list_topics in calls:
        try:
            md = list_topics()
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
    parser.add_argument("--value-bytes", type=int, default=0)
    parser.add_argument("-X", action="append", default=[], metavar="key=value")
    args = parser.parse_args()

    producer = Producer({**base_config(args, "producer"), "acks": "all"})
    classic = settings(args).get("group.protocol", "classic") == "classic"
    consumer = Consumer({
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        **({"session.timeout.ms": "10000", "heartbeat.interval.ms": "1000"} if classic else {}),
        **base_config(args, "consumer"),
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
            producer.produce(args.topic, value=padded(f"r-{s}", args.value_bytes), key=f"k{s}".encode(), on_delivery=delivered)
        except BufferError as e:
            emit({"sendError": s, "error": f"local queue full: {e}", "sentAt": sent_at})
        except KafkaException as e:
            emit({"sendError": s, "error": str(e), "sentAt": sent_at})
            if e.args and isinstance(e.args[0], KafkaError) and is_fatal(e.args[0]):
                fatal("producer", e.args[0])
                break
        with commands_lock:
            pending = commands[:]
            commands.clear()
        for cmd in pending:
            if cmd == "cluster-id":
                cluster_ids(producer, consumer)
        deadline = time.monotonic() + args.interval_ms / 1000
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                producer.poll(left)
        except KafkaException as e:  # poll() raises the producer's fatal error
            fatal("producer", e.args[0] if e.args else e)
            break

    try:
        remaining = producer.flush(30)
    except KafkaException as e:
        fatal("producer", e.args[0] if e.args else e)
        remaining = len(producer)
    if not stopping.is_set():
        emit({"producerStopped": True, "sent": seq, "unflushed": remaining, "at": now_ms()})
        stopping.wait()
    consumer_thread.join(5)
    consumer.close()
    emit({"done": True, "sent": seq, "unflushed": remaining})


if __name__ == "__main__":
    main()
