// Reads Kafka messages encoded by Turnout's codec and re-encodes them with Kafka's own
// generated classes from kafka-clients. One line in: "<request|response> <apiKey> <version> <hex>";
// one line out: "OK <hex>" or "ERR <reason>". Used by test/integration/protocol/java-codec-parity.test.ts.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import org.apache.kafka.common.message.ApiMessageType;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.ObjectSerializationCache;

public class CodecEcho {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        PrintStream out = new PrintStream(System.out, false);
        HexFormat hex = HexFormat.of();
        String line;
        while ((line = in.readLine()) != null) {
            String[] p = line.split(" ", -1);
            try {
                ApiMessageType type = ApiMessageType.fromApiKey(Short.parseShort(p[1]));
                short version = Short.parseShort(p[2]);
                ApiMessage msg = p[0].equals("request") ? type.newRequest() : type.newResponse();
                ByteBuffer buf = ByteBuffer.wrap(hex.parseHex(p[3]));
                msg.read(new ByteBufferAccessor(buf), version);
                if (buf.hasRemaining()) throw new IllegalStateException(buf.remaining() + " bytes left");
                ObjectSerializationCache cache = new ObjectSerializationCache();
                int size = msg.size(cache, version);
                ByteBuffer outBuf = ByteBuffer.allocate(size);
                msg.write(new ByteBufferAccessor(outBuf), cache, version);
                out.println("OK " + hex.formatHex(outBuf.array()));
            } catch (Throwable t) {
                out.println("ERR " + t.toString().replace('\n', ' '));
            }
        }
        out.flush();
    }
}
