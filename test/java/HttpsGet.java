// Test peer: an HTTPS client that trusts only the JDK's default trust store (cacerts).
// Usage: java test/java/HttpsGet.java URL — prints the status and body; exit 1 with the error otherwise.
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.HttpsURLConnection;

public class HttpsGet {
    public static void main(String[] args) {
        try {
            HttpsURLConnection c = (HttpsURLConnection) new URL(args[0]).openConnection();
            c.setConnectTimeout(20000);
            c.setReadTimeout(20000);
            try (InputStream in = c.getInputStream()) {
                System.out.println(c.getResponseCode() + " " + new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        } catch (Exception e) {
            System.err.println(e);
            System.exit(1);
        }
    }
}
