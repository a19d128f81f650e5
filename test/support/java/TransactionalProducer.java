// The transactions seed scenario, run by the real Java producer (kafka-clients of the version on
// the classpath): per round, one transaction that writes to topic A and topic B and commits, then
// one that writes to both and aborts. Compiled and run by test/support/clients/java.ts.
//
//   java TransactionalProducer <topicA> <topicB> <rounds> <transactional.id> [config=value ...]
//
// Prints one JSON line per transaction, after it has been committed or aborted:
//   {"round":1,"outcome":"committed","records":[{"topic":..,"partition":..,"offset":..,"key":..,"value":..},...]}
// and {"done":true,"rounds":K} at the end. Aborted records are flushed before the abort, so they
// are in the log (with offsets) and a read_committed consumer has to skip them.
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class TransactionalProducer {
  public static void main(String[] args) throws Exception {
    if (args.length < 4) {
      System.err.println("usage: TransactionalProducer <topicA> <topicB> <rounds> <transactional.id> [config=value ...]");
      System.exit(2);
    }
    String topicA = args[0];
    String topicB = args[1];
    int rounds = Integer.parseInt(args[2]);
    Properties props = new Properties();
    for (int i = 4; i < args.length; i++) {
      int eq = args[i].indexOf('=');
      props.put(args[i].substring(0, eq), args[i].substring(eq + 1));
    }
    props.put("transactional.id", args[3]);
    props.put("acks", "all");
    props.put("enable.idempotence", "true");
    props.put("key.serializer", StringSerializer.class.getName());
    props.put("value.serializer", StringSerializer.class.getName());

    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      producer.initTransactions();
      for (int round = 1; round <= rounds; round++) {
        for (String outcome : new String[] {"committed", "aborted"}) {
          producer.beginTransaction();
          String key = "r" + round;
          List<ProducerRecord<String, String>> sent = List.of(
              new ProducerRecord<>(topicA, key, key + "-" + outcome + "-a"),
              new ProducerRecord<>(topicB, key, key + "-" + outcome + "-b"));
          List<Future<RecordMetadata>> acks = new ArrayList<>();
          for (ProducerRecord<String, String> r : sent) acks.add(producer.send(r));
          producer.flush();
          StringBuilder records = new StringBuilder();
          for (int i = 0; i < sent.size(); i++) {
            RecordMetadata m = acks.get(i).get();
            if (i > 0) records.append(',');
            records.append("{\"topic\":").append(json(m.topic()))
                .append(",\"partition\":").append(m.partition())
                .append(",\"offset\":").append(m.offset())
                .append(",\"key\":").append(json(sent.get(i).key()))
                .append(",\"value\":").append(json(sent.get(i).value())).append('}');
          }
          if (outcome.equals("committed")) producer.commitTransaction();
          else producer.abortTransaction();
          System.out.println("{\"round\":" + round + ",\"outcome\":\"" + outcome + "\",\"records\":[" + records + "]}");
          System.out.flush();
        }
      }
    }
    System.out.println("{\"done\":true,\"rounds\":" + rounds + "}");
    System.out.flush();
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
