// Long-running Java clients (kafka-clients of the version on the classpath) for the switchover
// tests: each runs as ONE process across a route switch and prints JSON lines on stdout, one per
// event, flushed at once. Compiled and started by test/support/switchover/java-program.ts.
//
//   java SwitchoverClient idempotent <topic> <intervalMs> [config=value ...]
//       enable.idempotence=true, acks=all, default retries; one record every intervalMs, value
//       "i-<seq>", key "k<seq>". Prints per record {"ack":seq,"partition","offset","sentAt","ackAt"}
//       or {"sendError":seq,"error","sentAt"}; a synchronous send() failure is {"fatal":...}.
//   java SwitchoverClient transactional <topic> <transactional.id> <recordsPerTx> <stepMs> [config=value ...]
//       small transactions back to back: begin, <recordsPerTx> records "t-<tx>-<i>" stepMs apart,
//       flush, commit. A failed transaction is aborted; when the abort itself fails, or the error
//       is one the producer cannot recover from (ProducerFencedException, ...), the producer is
//       closed and a new one with the same transactional.id is initialised - in this process.
//       Prints {"tx":k,"outcome":"committed"|"aborted"|"commit-failed","values":[...],
//       "beganAt","endedAt","error","action"}; "commit-failed" means commitTransaction() threw,
//       so the transaction may or may not have committed.
//   java SwitchoverClient admin [config=value ...]
//       an Admin client; stdin commands, one per line: "describe" prints
//       {"describe":{"clusterId","controller","nodes":[{"id","host","port"}]}}; "topic <name>"
//       prints {"topic":{"name","topicId","partitions":[{"partition","leader"}]}}; errors are
//       {"commandError":...}.
//
// Every mode stops on a "stop" line or end of stdin: producers flush and close and print
// {"done":true,...}. The process exits 0 unless something was fatal.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.apache.kafka.common.serialization.StringSerializer;

public class SwitchoverClient {
  static volatile boolean stopping = false;

  public static void main(String[] args) throws Exception {
    if (args.length < 1) usage();
    switch (args[0]) {
      case "idempotent" -> idempotent(args[1], Long.parseLong(args[2]), config(args, 3));
      case "transactional" -> transactional(args[1], args[2], Integer.parseInt(args[3]), Long.parseLong(args[4]), config(args, 5));
      case "admin" -> admin(config(args, 1));
      default -> usage();
    }
  }

  static void usage() {
    System.err.println("usage: SwitchoverClient idempotent|transactional|admin ... (see the file comment)");
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

  static synchronized void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  /** Sets `stopping` on a "stop" line or at the end of stdin. */
  static void watchStdin() {
    Thread t = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) if (line.trim().equals("stop")) break;
      } catch (Exception ignored) {
        // treated as the end of stdin
      }
      stopping = true;
    }, "stdin");
    t.setDaemon(true);
    t.start();
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- idempotent producer ----

  static void idempotent(String topic, long intervalMs, Properties props) {
    props.put("enable.idempotence", "true");
    props.put("acks", "all");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    watchStdin();
    long seq = 0;
    int fatal = 0;
    KafkaProducer<String, String> producer = new KafkaProducer<>(props);
    emit("{\"started\":true}");
    while (!stopping) {
      final long s = seq++;
      final long sentAt = System.currentTimeMillis();
      try {
        producer.send(new ProducerRecord<>(topic, "k" + s, "i-" + s), (md, ex) -> {
          if (ex == null) {
            emit("{\"ack\":" + s + ",\"partition\":" + md.partition() + ",\"offset\":" + md.offset() + ",\"sentAt\":" + sentAt + ",\"ackAt\":" + System.currentTimeMillis() + "}");
          } else {
            emit("{\"sendError\":" + s + ",\"error\":" + json(describe(ex)) + ",\"sentAt\":" + sentAt + "}");
          }
        });
      } catch (Exception e) {
        emit("{\"fatal\":" + json(describe(e)) + ",\"seq\":" + s + "}");
        fatal++;
        break;
      }
      sleep(intervalMs);
    }
    try {
      producer.flush();
      producer.close(Duration.ofSeconds(30));
    } catch (Exception e) {
      emit("{\"fatal\":" + json(describe(e)) + ",\"while\":\"close\"}");
      fatal++;
    }
    emit("{\"done\":true,\"sent\":" + seq + "}");
    System.exit(fatal == 0 ? 0 : 1);
  }

  // ---- transactional producer ----

  static KafkaProducer<String, String> newTransactional(Properties props) {
    // initTransactions retries retriable errors internally up to max.block.ms; a fresh coordinator
    // (the destination cluster after a switch) may need longer, so keep trying.
    long deadline = System.currentTimeMillis() + 120_000;
    while (true) {
      KafkaProducer<String, String> p = new KafkaProducer<>(props);
      try {
        p.initTransactions();
        emit("{\"initialised\":true,\"at\":" + System.currentTimeMillis() + "}");
        return p;
      } catch (Exception e) {
        emit("{\"initError\":" + json(describe(e)) + ",\"at\":" + System.currentTimeMillis() + "}");
        p.close(Duration.ZERO);
        if (System.currentTimeMillis() > deadline || stopping) throw e;
        sleep(500);
      }
    }
  }

  static boolean unrecoverable(Throwable e) {
    return e instanceof ProducerFencedException || e instanceof OutOfOrderSequenceException
        || e instanceof AuthorizationException || e instanceof UnsupportedVersionException;
  }

  static void transactional(String topic, String transactionalId, int recordsPerTx, long stepMs, Properties props) {
    props.put("transactional.id", transactionalId);
    props.put("enable.idempotence", "true");
    props.put("acks", "all");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());
    watchStdin();
    KafkaProducer<String, String> producer = newTransactional(props);
    emit("{\"started\":true}");
    int tx = 0;
    int recreated = 0;
    while (!stopping) {
      final int k = ++tx;
      List<String> values = new ArrayList<>();
      long beganAt = System.currentTimeMillis();
      String phase = "begin";
      try {
        producer.beginTransaction();
        phase = "send";
        List<Future<RecordMetadata>> acks = new ArrayList<>();
        for (int i = 0; i < recordsPerTx; i++) {
          String v = "t-" + k + "-" + i;
          values.add(v);
          acks.add(producer.send(new ProducerRecord<>(topic, "t" + k, v)));
          if (i + 1 < recordsPerTx) sleep(stepMs);
        }
        producer.flush();
        for (Future<RecordMetadata> f : acks) {
          try {
            f.get();
          } catch (ExecutionException e) {
            throw e.getCause() instanceof Exception c ? c : e;
          }
        }
        phase = "commit";
        producer.commitTransaction();
        emit("{\"tx\":" + k + ",\"outcome\":\"committed\",\"values\":" + jsonList(values) + ",\"beganAt\":" + beganAt + ",\"endedAt\":" + System.currentTimeMillis() + "}");
      } catch (Exception e) {
        String outcome = phase.equals("commit") ? "commit-failed" : "aborted";
        String action;
        if (unrecoverable(e)) {
          action = "closed the producer (" + e.getClass().getSimpleName() + " is not recoverable) and initialised a new one";
          producer.close(Duration.ZERO);
          producer = newTransactional(props);
          recreated++;
        } else {
          try {
            producer.abortTransaction();
            action = "aborted";
          } catch (Exception abortError) {
            action = "abortTransaction() failed (" + describe(abortError) + "); closed the producer and initialised a new one";
            producer.close(Duration.ZERO);
            producer = newTransactional(props);
            recreated++;
          }
        }
        emit("{\"tx\":" + k + ",\"outcome\":\"" + outcome + "\",\"values\":" + jsonList(values) + ",\"beganAt\":" + beganAt + ",\"endedAt\":" + System.currentTimeMillis()
            + ",\"phase\":\"" + phase + "\",\"error\":" + json(describe(e)) + ",\"action\":" + json(action) + "}");
      }
    }
    producer.close(Duration.ofSeconds(30));
    emit("{\"done\":true,\"transactions\":" + tx + ",\"producersRecreated\":" + recreated + "}");
    System.exit(0);
  }

  // ---- admin ----

  static void admin(Properties props) throws Exception {
    try (Admin admin = Admin.create(props);
         BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      emit("{\"started\":true}");
      for (String line; (line = in.readLine()) != null; ) {
        String[] cmd = line.trim().split("\\s+");
        try {
          if (cmd[0].equals("stop")) break;
          if (cmd[0].equals("describe")) {
            DescribeClusterResult r = admin.describeCluster();
            String clusterId = r.clusterId().get(30, TimeUnit.SECONDS);
            Node controller = r.controller().get(30, TimeUnit.SECONDS);
            StringBuilder b = new StringBuilder("{\"describe\":{\"clusterId\":").append(json(clusterId))
                .append(",\"controller\":").append(controller == null ? -1 : controller.id()).append(",\"nodes\":[");
            boolean first = true;
            for (Node n : r.nodes().get(30, TimeUnit.SECONDS)) {
              if (!first) b.append(',');
              first = false;
              b.append("{\"id\":").append(n.id()).append(",\"host\":").append(json(n.host())).append(",\"port\":").append(n.port()).append('}');
            }
            emit(b.append("]}}").toString());
          } else if (cmd[0].equals("topic")) {
            Map<String, TopicDescription> all = admin.describeTopics(List.of(cmd[1])).allTopicNames().get(30, TimeUnit.SECONDS);
            TopicDescription d = all.get(cmd[1]);
            StringBuilder b = new StringBuilder("{\"topic\":{\"name\":").append(json(d.name()))
                .append(",\"topicId\":").append(json(d.topicId().toString())).append(",\"partitions\":[");
            boolean first = true;
            for (TopicPartitionInfo p : d.partitions()) {
              if (!first) b.append(',');
              first = false;
              b.append("{\"partition\":").append(p.partition()).append(",\"leader\":").append(p.leader() == null ? -1 : p.leader().id()).append('}');
            }
            emit(b.append("]}}").toString());
          } else {
            emit("{\"commandError\":" + json("unknown command: " + line) + "}");
          }
        } catch (Exception e) {
          emit("{\"commandError\":" + json(describe(e)) + ",\"command\":" + json(line) + "}");
        }
      }
    }
    emit("{\"done\":true}");
  }

  // ---- JSON ----

  static String describe(Throwable e) {
    Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
    String s = t.getClass().getName() + ": " + t.getMessage();
    if (t.getCause() != null && t.getCause() != t) s += " (cause: " + t.getCause().getClass().getName() + ": " + t.getCause().getMessage() + ")";
    return s;
  }

  static String jsonList(List<String> values) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < values.size(); i++) {
      if (i > 0) b.append(',');
      b.append(json(values.get(i)));
    }
    return b.append(']').toString();
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
