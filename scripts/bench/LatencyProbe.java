// Producer latency in microseconds at a fixed rate, optionally with end-to-end latency (send to
// receipt by a consumer in the same JVM, so both ends read the same System.nanoTime clock).
// ProducerPerformance measures the same thing (send() to its callback) but prints percentiles in
// whole milliseconds, too coarse for a sub-millisecond budget. Compiled and run by
// scripts/bench/probe.ts against the kafka-clients jar of the benchmarked Kafka version.
//
//   java LatencyProbe <bootstrap> <topic> <records> <recordSize> <recordsPerSec> <acks> <warmupRecords> <e2e:true|false> [prop=value ...]
//
// Prints one JSON line: {"records":..,"seconds":..,"recordsPerSec":..,"errors":..,
//   "produce":{"count":..,"avgUs":..,"p50Us":..,"p95Us":..,"p99Us":..,"p999Us":..,"maxUs":..},"e2e":{...}|null}
// Latencies of the first <warmupRecords> records are left out of the statistics.
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class LatencyProbe {
  public static void main(String[] args) throws Exception {
    if (args.length < 8) {
      System.err.println("usage: LatencyProbe <bootstrap> <topic> <records> <recordSize> <recordsPerSec> <acks> <warmupRecords> <e2e> [prop=value ...]");
      System.exit(2);
    }
    String bootstrap = args[0];
    String topic = args[1];
    int records = Integer.parseInt(args[2]);
    int recordSize = Math.max(4, Integer.parseInt(args[3]));
    double rate = Double.parseDouble(args[4]);
    String acks = args[5];
    int warmup = Integer.parseInt(args[6]);
    boolean e2e = Boolean.parseBoolean(args[7]);
    Properties extra = new Properties();
    for (int i = 8; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      extra.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }

    AtomicLongArray sentAt = new AtomicLongArray(records);
    long[] ackNs = new long[records];
    long[] e2eNs = new long[records];
    Arrays.fill(ackNs, -1);
    Arrays.fill(e2eNs, -1);
    AtomicInteger errors = new AtomicInteger();

    Thread consumerThread = null;
    CountDownLatch consumerReady = new CountDownLatch(1);
    AtomicInteger received = new AtomicInteger();
    AtomicLong consumerDeadline = new AtomicLong(Long.MAX_VALUE);
    if (e2e) {
      Properties cp = new Properties();
      cp.put("bootstrap.servers", bootstrap);
      cp.put("key.deserializer", ByteArrayDeserializer.class.getName());
      cp.put("value.deserializer", ByteArrayDeserializer.class.getName());
      cp.put("enable.auto.commit", "false");
      cp.put("auto.offset.reset", "latest");
      cp.put("client.id", "latency-probe-consumer");
      consumerThread = new Thread(() -> {
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(cp)) {
          List<TopicPartition> partitions = new ArrayList<>();
          for (PartitionInfo p : consumer.partitionsFor(topic)) partitions.add(new TopicPartition(topic, p.partition()));
          consumer.assign(partitions);
          consumer.seekToEnd(partitions);
          for (TopicPartition tp : partitions) consumer.position(tp);
          consumerReady.countDown();
          while (received.get() < records && System.nanoTime() < consumerDeadline.get()) {
            ConsumerRecords<byte[], byte[]> batch = consumer.poll(java.time.Duration.ofMillis(100));
            long now = System.nanoTime();
            for (ConsumerRecord<byte[], byte[]> r : batch) {
              byte[] v = r.value();
              int index = ((v[0] & 0xff) << 24) | ((v[1] & 0xff) << 16) | ((v[2] & 0xff) << 8) | (v[3] & 0xff);
              if (index >= 0 && index < records && e2eNs[index] < 0) {
                e2eNs[index] = now - sentAt.get(index);
                received.incrementAndGet();
              }
            }
          }
        } catch (Exception e) {
          e.printStackTrace();
          consumerReady.countDown();
        }
      }, "latency-probe-consumer");
      consumerThread.start();
      if (!consumerReady.await(60, TimeUnit.SECONDS)) throw new IllegalStateException("consumer not ready after 60 s");
    }

    Properties pp = new Properties();
    pp.put("bootstrap.servers", bootstrap);
    pp.put("acks", acks);
    pp.put("key.serializer", ByteArraySerializer.class.getName());
    pp.put("value.serializer", ByteArraySerializer.class.getName());
    pp.put("client.id", "latency-probe-producer");
    pp.putAll(extra);

    byte[] payload = new byte[recordSize];
    new java.util.Random(42).nextBytes(payload);
    long start;
    long end;
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(pp)) {
      // Connect and fetch metadata before the clock starts, as a running application would have.
      producer.partitionsFor(topic);
      start = System.nanoTime();
      double nsPerRecord = 1e9 / rate;
      for (int i = 0; i < records; i++) {
        // Send on schedule; sleep only when ahead by a millisecond or more (no busy spinning, which
        // would steal a core on a small machine), so records go out in bursts of at most 1 ms.
        long due = start + (long) (i * nsPerRecord);
        long ahead = due - System.nanoTime();
        if (ahead >= 1_000_000) LockSupport.parkNanos(ahead);
        payload[0] = (byte) (i >>> 24);
        payload[1] = (byte) (i >>> 16);
        payload[2] = (byte) (i >>> 8);
        payload[3] = (byte) i;
        final int index = i;
        long sent = System.nanoTime();
        sentAt.set(index, sent);
        // send() copies the value into a batch before it returns, so the payload array is reused.
        producer.send(new ProducerRecord<>(topic, payload), (metadata, exception) -> {
          if (exception != null) errors.incrementAndGet();
          else ackNs[index] = System.nanoTime() - sent;
        });
      }
      producer.flush();
      end = System.nanoTime();
    }
    if (consumerThread != null) {
      consumerDeadline.set(System.nanoTime() + 30_000_000_000L);
      consumerThread.join();
    }

    double seconds = (end - start) / 1e9;
    StringBuilder out = new StringBuilder();
    out.append("{\"records\":").append(records)
        .append(",\"seconds\":").append(seconds)
        .append(",\"recordsPerSec\":").append(records / seconds)
        .append(",\"errors\":").append(errors.get())
        .append(",\"produce\":").append(stats(ackNs, warmup))
        .append(",\"e2e\":").append(e2e ? stats(e2eNs, warmup) : "null")
        .append("}");
    System.out.println(out);
  }

  /** Latency statistics in microseconds over the measured (non-negative) samples past the warm-up. */
  static String stats(long[] ns, int warmup) {
    long[] xs = Arrays.stream(ns, Math.min(warmup, ns.length), ns.length).filter(x -> x >= 0).sorted().toArray();
    if (xs.length == 0) return "{\"count\":0}";
    double sum = 0;
    for (long x : xs) sum += x;
    return String.format(java.util.Locale.ROOT,
        "{\"count\":%d,\"avgUs\":%.1f,\"p50Us\":%.1f,\"p95Us\":%.1f,\"p99Us\":%.1f,\"p999Us\":%.1f,\"maxUs\":%.1f}",
        xs.length, sum / xs.length / 1e3, pct(xs, 0.50), pct(xs, 0.95), pct(xs, 0.99), pct(xs, 0.999), xs[xs.length - 1] / 1e3);
  }

  static double pct(long[] sorted, double q) {
    int i = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e3;
  }
}
