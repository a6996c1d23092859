package dev.cryptolambda.peer;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * The wire contracts as cryptolambda writes them (src/adapters/avro/codec.ts): Avro single-object
 * encoding (C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, the Avro
 * binary body), decoded with Apache Avro's own BinaryMessageDecoder, which checks the header, looks
 * the writer schema up by fingerprint and resolves it to the reader schema. Every published writer
 * version in schemas/versions/ is registered, like the TypeScript SchemaStore does.
 *
 * Decimals are canonical fixed-scale strings; they are parsed into BigDecimal at the contract's
 * scale, and a value with more digits than that scale is rejected (as core validation does), never
 * rounded. A record that does not decode or validate throws, and the Streams deserialization
 * handler logs and skips it (cryptolambda dead-letters it; the bench input has none).
 */
final class Events {
  static final int PRICE_SCALE = 12;
  static final int QTY_SCALE = 18;
  static final int USD_SCALE = 12;
  private static final Pattern SYMBOL = Pattern.compile("[A-Z0-9]{2,20}");
  private static final Pattern EVENT_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  private Events() {}

  record Price(String eventId, String symbol, BigDecimal price, BigDecimal quantity, long eventTime) {}

  /** A decoder for one contract (e.g. price) over every published version of its schema. */
  static BinaryMessageDecoder<GenericRecord> decoder(Path schemaDir, String contract) throws IOException {
    Schema current = new Schema.Parser().parse(schemaDir.resolve(contract + ".avsc").toFile());
    BinaryMessageDecoder<GenericRecord> d = new BinaryMessageDecoder<>(GenericData.get(), current);
    try (DirectoryStream<Path> versions = Files.newDirectoryStream(schemaDir.resolve("versions"), contract + ".v*.avsc")) {
      for (Path v : versions) d.addSchema(new Schema.Parser().parse(v.toFile()));
    }
    return d;
  }

  static BigDecimal decimal(GenericRecord r, String field, int scale, boolean positive) {
    BigDecimal d = new BigDecimal(r.get(field).toString());
    // ArithmeticException if digits would be dropped: a contract violation, not a rounding.
    d = d.setScale(scale, java.math.RoundingMode.UNNECESSARY);
    int sign = d.signum();
    if (positive ? sign <= 0 : sign < 0) throw new IllegalArgumentException(field + ": out of range " + d);
    return d;
  }

  static String text(GenericRecord r, String field, Pattern p) {
    String s = r.get(field).toString();
    if (!p.matcher(s).matches()) throw new IllegalArgumentException(field + ": invalid " + s);
    return s;
  }

  static final class PriceDeserializer implements Deserializer<Price> {
    private final BinaryMessageDecoder<GenericRecord> decoder;

    PriceDeserializer(Path schemaDir) throws IOException {
      this.decoder = decoder(schemaDir, "price");
    }

    @Override
    public Price deserialize(String topic, byte[] data) {
      if (data == null) return null;
      try {
        // No record reuse: one Serde instance serves every stream thread.
        GenericRecord r = decoder.decode(data);
        return new Price(
            text(r, "eventId", EVENT_ID),
            text(r, "symbol", SYMBOL),
            decimal(r, "price", PRICE_SCALE, true),
            decimal(r, "quantity", QTY_SCALE, false),
            (Long) r.get("eventTime"));
      } catch (IOException e) {
        throw new IllegalArgumentException("undecodable price record: " + e.getMessage(), e);
      }
    }
  }
}
