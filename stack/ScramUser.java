import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

/**
 * Run by `cryptolambda stack up` (java source-file mode, the broker's own jars on the class path):
 * creates or updates the SCRAM-SHA-256 user of the local stack through the client listener,
 * authenticated as the broker's internal PLAIN user (super user; the Admin API that writes SCRAM
 * credentials is not served by a controller listener).
 * Used when the broker's metadata has no SCRAM credential for the current password: a data dir
 * formatted before the stack was secured, a new data dir, or a rotated password.
 *
 * Everything comes from the environment, never from the command line (a command line is visible
 * to every local user in ps): CL_BOOTSTRAP (host:port), CL_INTERNAL_USER, CL_INTERNAL_PASSWORD,
 * CL_SCRAM_USER, CL_SCRAM_PASSWORD.
 */
public final class ScramUser {
  private static String env(String name) {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) throw new IllegalArgumentException(name + " is not set");
    return v;
  }

  private static String quote(String v) {
    return "\"" + v.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  public static void main(String[] args) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, env("CL_BOOTSTRAP"));
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", "PLAIN");
    p.put(
        "sasl.jaas.config",
        "org.apache.kafka.common.security.plain.PlainLoginModule required username="
            + quote(env("CL_INTERNAL_USER"))
            + " password="
            + quote(env("CL_INTERNAL_PASSWORD"))
            + ";");
    p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "60000");
    p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
    try (Admin admin = Admin.create(p)) {
      admin
          .alterUserScramCredentials(
              List.of(
                  new UserScramCredentialUpsertion(
                      env("CL_SCRAM_USER"),
                      new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192),
                      env("CL_SCRAM_PASSWORD"))))
          .all()
          .get(60, TimeUnit.SECONDS);
    }
    System.out.println("scram user upserted");
  }
}
