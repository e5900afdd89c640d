// A Java TLS server for the PKCS#12 end-to-end test (tests/tests/e2e_pkcs12.rs), run from
// source (`java Server.java`, JEP 330, Java 11+):
//
//   java Server.java KEYSTORE.p12 TRUSTSTORE.p12 PASSWORD_FILE
//   java -Djavax.net.ssl.keyStore=... (the JSSE properties) Server.java --jvm-properties
//
// It loads its key from the helper's PKCS#12 keystore and its trust anchors from the helper's
// PKCS#12 truststore (KeyStore type "PKCS12", password read from PASSWORD_FILE with one final
// "\n" or "\r\n" removed, as the helper reads it), requires a client certificate, and answers
// each connection with one line:
//
//   ok client=<client URI SAN> serial=<serial of the server certificate, upper-case hex>
//
// Both stores are loaded again for every connection, so a rotation written by the helper is
// served from the next connection on. With --jvm-properties it uses SSLContext.getDefault()
// instead, which the JVM builds once from the javax.net.ssl.* system properties (the flags of
// examples/java/README.md). It prints "listening <port>" once bound to 127.0.0.1.
import java.io.FileInputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class Server {
    public static void main(String[] args) throws Exception {
        boolean jvm = args[0].equals("--jvm-properties");
        char[] password = jvm ? null : password(Path.of(args[2]));
        try (var listener = new java.net.ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            System.out.println("listening " + listener.getLocalPort());
            System.out.flush();
            while (true) {
                var plain = listener.accept();
                SSLContext context =
                        jvm ? SSLContext.getDefault() : context(args[0], args[1], password);
                var tls = (SSLSocket) context.getSocketFactory()
                        .createSocket(plain, null, plain.getPort(), true);
                tls.setUseClientMode(false);
                tls.setNeedClientAuth(true);
                try (tls) {
                    tls.startHandshake();
                    var session = tls.getSession();
                    var client = (X509Certificate) session.getPeerCertificates()[0];
                    var server = (X509Certificate) session.getLocalCertificates()[0];
                    String line = "ok client=" + uri(client) + " serial="
                            + server.getSerialNumber().toString(16).toUpperCase() + "\n";
                    OutputStream out = tls.getOutputStream();
                    out.write(line.getBytes(StandardCharsets.UTF_8));
                    out.flush();
                } catch (Exception e) {
                    System.out.println("error " + e);
                    System.out.flush();
                }
            }
        }
    }

    static char[] password(Path file) throws Exception {
        String text = Files.readString(file, StandardCharsets.UTF_8);
        if (text.endsWith("\n")) {
            text = text.substring(0, text.length() - 1);
            if (text.endsWith("\r")) {
                text = text.substring(0, text.length() - 1);
            }
        }
        return text.toCharArray();
    }

    static KeyStore load(String path, char[] password) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (var in = new FileInputStream(path)) {
            store.load(in, password);
        }
        return store;
    }

    static SSLContext context(String keystore, String truststore, char[] password)
            throws Exception {
        var keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(load(keystore, password), password);
        var trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trust.init(load(truststore, password));
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), trust.getTrustManagers(), null);
        return context;
    }

    static String uri(X509Certificate cert) throws Exception {
        for (List<?> name : cert.getSubjectAlternativeNames()) {
            if ((Integer) name.get(0) == 6) {
                return (String) name.get(1);
            }
        }
        return "none";
    }
}
