package dev.cryptolambda.peer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.state.WindowStore;

/**
 * The Kafka Streams peer of `cryptolambda stream` (bench/peer.ts runs both on the same broker and
 * topic in one run). Job:
 *
 * <ul>
 *   <li>{@code ohlcv}: raw.prices (key = symbol) into 1m and 5m event-time tumbling windows, event
 *       time read from the Avro payload, grace {@code grace-ms} (35 s = cryptolambda's 5 s
 *       out-of-orderness plus 30 s allowed lateness: both drop a trade once the partition's max
 *       event time reaches window end + 35 s). Each changed window goes to the output topic as
 *       {@code symbol|interval|start -> CandleFieldsJson} at every commit (record cache on),
 *       as the speed layer writes changed candles to Redis at every checkpoint.
 * </ul>
 *
 * State lives in in-memory stores backed by changelog topics by default (cryptolambda also keeps
 * its windows in memory, checkpointed to Redis); {@code store=rocksdb} uses Streams' default store.
 * With {@code guarantee=exactly_once_v2} (the default) state, output and offsets commit in one
 * Kafka transaction, the counterpart of cryptolambda's fenced MULTI/EXEC checkpoint.
 *
 * <p>Arguments are {@code key=value}; prints {@code peer started <epoch ms>} before start and
 * {@code peer running <epoch ms>} when the instance reaches RUNNING; stops on SIGTERM.
 */
public final class Main {
  private Main() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (String s : argv) {
      int i = s.indexOf('=');
      if (i <= 0) throw new IllegalArgumentException("expected key=value, got " + s);
      a.put(s.substring(0, i), s.substring(i + 1));
    }
    String job = a.getOrDefault("job", "ohlcv");
    Path schemas = Path.of(req(a, "schemas"));
    String input = req(a, "input");
    String output = req(a, "output");
    String store = a.getOrDefault("store", "memory");
    long grace = Long.parseLong(a.getOrDefault("grace-ms", "35000"));

    StreamsBuilder b = new StreamsBuilder();
    switch (job) {
      case "ohlcv" -> ohlcv(b, schemas, input, output, store, grace);
      default -> throw new IllegalArgumentException("unknown job " + job);
    }

    Properties p = new Properties();
    // Client security (SASL/TLS: the local stack is SCRAM-authenticated) from a 0600 properties
    // file, never from the command line (visible to every local user in ps). Streams hands
    // security.protocol / sasl.* / ssl.* to its consumers, producers and admin client.
    String clientConfig = a.get("client-config");
    if (clientConfig != null) {
      try (var in = java.nio.file.Files.newInputStream(Path.of(clientConfig))) {
        p.load(in);
      }
    }
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, req(a, "app"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, req(a, "bootstrap"));
    p.put(StreamsConfig.STATE_DIR_CONFIG, req(a, "state-dir"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.getOrDefault("guarantee", StreamsConfig.EXACTLY_ONCE_V2));
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.getOrDefault("commit-ms", "500"));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", "1"));
    p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, LogAndContinueExceptionHandler.class);
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
    // Kafka Streams 4.x warns at start-up unless this is set (it becomes the default in 5.0).
    p.put("processing.exception.handler.global.enabled", "true");

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch stopped = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) System.out.println("peer running " + System.currentTimeMillis());
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) stopped.countDown();
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      streams.close(Duration.ofSeconds(20));
      stopped.countDown();
    }));
    System.out.println("peer started " + System.currentTimeMillis());
    streams.start();
    stopped.await();
    if (streams.state() == KafkaStreams.State.ERROR) {
      System.err.println("peer: Kafka Streams stopped in ERROR");
      System.exit(1);
    }
  }

  private static String req(Map<String, String> a, String k) {
    String v = a.get(k);
    if (v == null || v.isEmpty()) throw new IllegalArgumentException("missing " + k + "=...");
    return v;
  }

  private static void ohlcv(StreamsBuilder b, Path schemas, String input, String output, String store, long grace)
      throws IOException {
    Serde<Events.Price> prices = Serdes.serdeFrom((t, v) -> {
      throw new UnsupportedOperationException("prices are only read");
    }, new Events.PriceDeserializer(schemas));
    KGroupedStream<String, Events.Price> bySymbol = b
        .stream(input, Consumed.with(Serdes.String(), prices)
            // Event time from the payload (the record timestamp is the producer's clock). The value
            // is already deserialized here, so each record is decoded once.
            .withTimestampExtractor((r, partitionTime) ->
                r.value() instanceof Events.Price e ? e.eventTime() : partitionTime))
        .groupByKey(Grouped.with(Serdes.String(), prices));
    for (String interval : new String[] {"1m", "5m"}) {
      long size = interval.equals("1m") ? 60_000L : 300_000L;
      String name = "candles-" + interval;
      Materialized<String, Candle, WindowStore<Bytes, byte[]>> m = store.equals("memory")
          ? Materialized.as(Stores.inMemoryWindowStore(
              name, Duration.ofMillis(size + grace), Duration.ofMillis(size), false))
          : Materialized.as(name);
      bySymbol
          .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(size), Duration.ofMillis(grace)))
          .aggregate(Candle::new, (k, e, c) -> c.add(e), m.withKeySerde(Serdes.String()).withValueSerde(Candle.serde()))
          .toStream()
          .map((w, c) -> KeyValue.pair(
              w.key() + "|" + interval + "|" + w.window().start(),
              c.toJson(interval, w.key(), w.window().start(), w.window().end())))
          .to(output, Produced.with(Serdes.String(), Serdes.String()));
    }
  }
}
