// Test peer: an HTTPS server whose identity comes from a Java keystore.
// Usage: java test/java/HttpsServe.java KEYSTORE TYPE STOREPASS PORT [KEYPASS]
// Prints "READY <port>" once listening on 127.0.0.1; answers GET /v1/versions with 200.
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

public class HttpsServe {
    public static void main(String[] args) throws Exception {
        char[] storePass = args[2].toCharArray();
        char[] keyPass = (args.length > 4 ? args[4] : args[2]).toCharArray();
        KeyStore ks = KeyStore.getInstance(args[1]);
        try (InputStream in = new FileInputStream(args[0])) {
            ks.load(in, storePass);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, keyPass);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(kmf.getKeyManagers(), null, null);

        HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", Integer.parseInt(args[3])), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(ssl));
        server.createContext("/v1/versions", ex -> {
            byte[] body = "{\"versions\":[\"v1\"]}\n".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        System.out.println("READY " + server.getAddress().getPort());
        System.out.flush();
    }
}
