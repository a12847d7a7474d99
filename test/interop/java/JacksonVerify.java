// How a Java GovESB client checks the bus's answer: Jackson reads the response body, writes its
// `data` member back out (ObjectMapper.writeValueAsString of the tree), and the bus's ECDSA
// signature must verify over those bytes. Prints the re-serialised data, then "verified" or
// "NOT verified"; exit 0 only when it verified.
// Usage: java -cp <jackson jars>:. JacksonVerify BUS_PUBLIC_KEY_BASE64_SPKI < response.json
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

public final class JacksonVerify {
  public static void main(String[] args) throws Exception {
    byte[] body = System.in.readAllBytes();
    ObjectMapper mapper = new ObjectMapper();
    JsonNode root = mapper.readTree(body);
    String data = mapper.writeValueAsString(root.get("data"));
    byte[] signature = Base64.getDecoder().decode(root.get("signature").asText());
    PublicKey key = KeyFactory.getInstance("EC")
        .generatePublic(new X509EncodedKeySpec(Base64.getDecoder().decode(args[0])));
    Signature verifier = Signature.getInstance("SHA256withECDSA");
    verifier.initVerify(key);
    verifier.update(data.getBytes(StandardCharsets.UTF_8));
    boolean ok = verifier.verify(signature);
    System.out.println(data);
    System.out.println(ok ? "verified" : "NOT verified");
    System.exit(ok ? 0 : 1);
  }
}
