// The real Java client (kafka-clients of the version on the classpath) doing one step and printing
// JSON lines on stdout. Compiled and run by test/support/clients/java.ts; client configuration
// (bootstrap.servers, SASL, acks, isolation.level, ...) comes as config=value arguments.
//
//   java JavaClient produce <topic> [config=value ...]
//       stdin: one record per line, "<base64 key or ->\t<base64 value>"; prints {"acked":N}
//   java JavaClient consume <topic> <group> <count> <timeoutMs> [config=value ...]
//       joins <group>, reads <count> records (earliest when the group has no offsets), commits
//       them, leaves; prints one {"partition","offset","key","value"} line per record
//   java JavaClient read <topic> <timeoutMs> [config=value ...]
//       no group: reads every partition from the beginning up to its end offset (the last stable
//       offset under isolation.level=read_committed); prints a line per record
//   java JavaClient metadata <timeoutMs> [config=value ...]
//       prints {"brokers":[{"nodeId","host","port"}],"topics":[...]}
//
// Exit code 3: the step's deadline passed (records read so far are already printed).
import java.time.Duration;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaClient {
  public static void main(String[] args) throws Exception {
    if (args.length < 1) usage();
    switch (args[0]) {
      case "produce" -> produce(args[1], config(args, 2));
      case "consume" -> consume(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]), config(args, 5));
      case "read" -> read(args[1], Long.parseLong(args[2]), config(args, 3));
      case "metadata" -> metadata(Long.parseLong(args[1]), config(args, 2));
      default -> usage();
    }
  }

  static void usage() {
    System.err.println("usage: JavaClient produce|consume|read|metadata ... (see the file comment)");
    System.exit(2);
  }

  static Properties config(String[] args, int from) {
    Properties props = new Properties();
    for (int i = from; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    return props;
  }

  static void produce(String topic, Properties props) throws Exception {
    props.putIfAbsent("acks", "all");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    List<Future<RecordMetadata>> acks = new ArrayList<>();
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      for (String line; (line = in.readLine()) != null; ) {
        if (line.isEmpty()) continue;
        String[] kv = line.split("\t", 2);
        String key = kv[0].equals("-") ? null : decode(kv[0]);
        acks.add(producer.send(new ProducerRecord<>(topic, key, decode(kv[1]))));
      }
      producer.flush();
      for (Future<RecordMetadata> ack : acks) ack.get(); // throws the first delivery failure
    }
    System.out.println("{\"acked\":" + acks.size() + "}");
  }

  static void consume(String topic, String group, int count, long timeoutMs, Properties props) {
    props.put("group.id", group);
    props.putIfAbsent("auto.offset.reset", "earliest");
    props.put("enable.auto.commit", "false");
    long deadline = System.currentTimeMillis() + timeoutMs;
    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
    int consumed = 0;
    try (KafkaConsumer<String, String> consumer = consumer(props)) {
      consumer.subscribe(List.of(topic));
      while (consumed < count) {
        if (System.currentTimeMillis() > deadline) deadlinePassed("consumed " + consumed + " of " + count + " records");
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          if (consumed == count) break;
          print(r);
          next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
          consumed++;
        }
      }
      // The records past `count` of the last poll are not committed: the next member reads them.
      if (!next.isEmpty()) consumer.commitSync(next);
    }
  }

  static void read(String topic, long timeoutMs, Properties props) {
    long deadline = System.currentTimeMillis() + timeoutMs;
    try (KafkaConsumer<String, String> consumer = consumer(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo p : consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs))) partitions.add(new TopicPartition(topic, p.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofMillis(timeoutMs));
      while (true) {
        boolean done = true;
        for (TopicPartition tp : partitions) if (consumer.position(tp) < end.get(tp)) done = false;
        if (done) break;
        if (System.currentTimeMillis() > deadline) deadlinePassed("did not reach the end offsets " + end);
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) print(r);
      }
    }
  }

  static void metadata(long timeoutMs, Properties props) throws Exception {
    // default.api.timeout.ms may not be below request.timeout.ms (30 s by default).
    props.putIfAbsent("request.timeout.ms", String.valueOf(Math.min(timeoutMs, 30_000)));
    props.putIfAbsent("default.api.timeout.ms", String.valueOf(timeoutMs));
    try (Admin admin = Admin.create(props)) {
      StringBuilder b = new StringBuilder("{\"brokers\":[");
      boolean first = true;
      for (Node n : admin.describeCluster().nodes().get()) {
        if (!first) b.append(',');
        first = false;
        b.append("{\"nodeId\":").append(n.id()).append(",\"host\":").append(json(n.host())).append(",\"port\":").append(n.port()).append('}');
      }
      b.append("],\"topics\":[");
      first = true;
      for (String t : admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get()) {
        if (!first) b.append(',');
        first = false;
        b.append(json(t));
      }
      System.out.println(b.append("]}"));
    }
  }

  static KafkaConsumer<String, String> consumer(Properties props) {
    props.put("key.deserializer", StringDeserializer.class.getName());
    props.put("value.deserializer", StringDeserializer.class.getName());
    return new KafkaConsumer<>(props);
  }

  static void print(ConsumerRecord<String, String> r) {
    System.out.println("{\"partition\":" + r.partition() + ",\"offset\":" + r.offset() + ",\"key\":" + json(r.key()) + ",\"value\":" + json(r.value()) + "}");
    System.out.flush();
  }

  static void deadlinePassed(String what) {
    System.out.flush();
    System.err.println("JavaClient: deadline passed: " + what);
    System.exit(3);
  }

  static String decode(String base64) {
    return new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
  }

  static String json(String s) {
    if (s == null) return "null";
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }
}
