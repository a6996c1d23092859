package dev.cryptolambda.peer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * One OHLCV window, with cryptolambda's semantics (src/core/ohlcv/candle.ts): open/close are the
 * trades with the smallest/largest (eventTime, eventId), so the candle does not depend on arrival
 * order; high/low max/min; volume the exact sum of quantities (scale 18); quote volume the sum of
 * price x quantity per trade, each rounded HALF-EVEN to scale 12; VWAP = quoteVolume / volume
 * (HALF-EVEN, scale 12), the close when the volume is zero. Event ids compare as Java Strings do,
 * by UTF-16 code unit, which is also JavaScript's `<` on strings.
 */
final class Candle {
  long openT = Long.MAX_VALUE;
  String openId = "";
  BigDecimal open;
  long closeT = Long.MIN_VALUE;
  String closeId = "";
  BigDecimal close;
  BigDecimal high;
  BigDecimal low;
  BigDecimal volume = BigDecimal.ZERO.setScale(Events.QTY_SCALE);
  BigDecimal quoteVolume = BigDecimal.ZERO.setScale(Events.USD_SCALE);
  long trades;

  /** Adds one trade in place (the Streams aggregator owns the value between store reads and writes). */
  Candle add(Events.Price p) {
    if (trades == 0 || p.eventTime() < openT || (p.eventTime() == openT && p.eventId().compareTo(openId) < 0)) {
      openT = p.eventTime();
      openId = p.eventId();
      open = p.price();
    }
    if (trades == 0 || p.eventTime() > closeT || (p.eventTime() == closeT && p.eventId().compareTo(closeId) > 0)) {
      closeT = p.eventTime();
      closeId = p.eventId();
      close = p.price();
    }
    if (high == null || p.price().compareTo(high) > 0) high = p.price();
    if (low == null || p.price().compareTo(low) < 0) low = p.price();
    volume = volume.add(p.quantity());
    quoteVolume = quoteVolume.add(p.quantity().multiply(p.price()).setScale(Events.USD_SCALE, RoundingMode.HALF_EVEN));
    trades++;
    return this;
  }

  BigDecimal vwap() {
    return volume.signum() == 0 ? close : quoteVolume.divide(volume, Events.PRICE_SCALE, RoundingMode.HALF_EVEN);
  }

  /** The public fields as cryptolambda's CandleFieldsJson, decimals as canonical fixed-scale strings. */
  String toJson(String interval, String symbol, long start, long end) {
    return new StringBuilder(320)
        .append("{\"interval\":\"").append(interval)
        .append("\",\"symbol\":\"").append(symbol)
        .append("\",\"start\":").append(start)
        .append(",\"end\":").append(end)
        .append(",\"open\":\"").append(open.toPlainString())
        .append("\",\"high\":\"").append(high.toPlainString())
        .append("\",\"low\":\"").append(low.toPlainString())
        .append("\",\"close\":\"").append(close.toPlainString())
        .append("\",\"volume\":\"").append(volume.toPlainString())
        .append("\",\"quoteVolume\":\"").append(quoteVolume.toPlainString())
        .append("\",\"trades\":").append(trades)
        .append(",\"vwap\":\"").append(vwap().toPlainString())
        .append("\"}")
        .toString();
  }

  /**
   * The store format: fixed scales, so a decimal is its unscaled integer's two's-complement bytes.
   * Compact and exact; the scales are the contract's, written nowhere else.
   */
  static Serde<Candle> serde() {
    Serializer<Candle> ser = (topic, c) -> {
      if (c == null) return null;
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(160);
      try (DataOutputStream out = new DataOutputStream(bytes)) {
        out.writeLong(c.trades);
        out.writeLong(c.openT);
        out.writeUTF(c.openId);
        out.writeLong(c.closeT);
        out.writeUTF(c.closeId);
        for (BigDecimal d : new BigDecimal[] {c.open, c.close, c.high, c.low, c.volume, c.quoteVolume}) {
          byte[] u = d.unscaledValue().toByteArray();
          out.writeShort(u.length);
          out.write(u);
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      return bytes.toByteArray();
    };
    Deserializer<Candle> de = (topic, data) -> {
      if (data == null) return null;
      try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
        Candle c = new Candle();
        c.trades = in.readLong();
        c.openT = in.readLong();
        c.openId = in.readUTF();
        c.closeT = in.readLong();
        c.closeId = in.readUTF();
        c.open = read(in, Events.PRICE_SCALE);
        c.close = read(in, Events.PRICE_SCALE);
        c.high = read(in, Events.PRICE_SCALE);
        c.low = read(in, Events.PRICE_SCALE);
        c.volume = read(in, Events.QTY_SCALE);
        c.quoteVolume = read(in, Events.USD_SCALE);
        return c;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    };
    return Serdes.serdeFrom(ser, de);
  }

  private static BigDecimal read(DataInputStream in, int scale) throws IOException {
    byte[] u = new byte[in.readShort()];
    in.readFully(u);
    return new BigDecimal(new BigInteger(u), scale);
  }
}
