package io.mobilecomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.Test;

/** Pooling, softmax, latency statistics, the benchmark loop and the result JSON. */
public class CoreMathTest {
    @Test
    public void meanPoolingIgnoresPadding() {
        float[] hidden = {1, 2, 3, 4, 100, 100};
        assertArrayEquals(new float[] {2, 3}, Pooling.meanPool(hidden, new int[] {1, 1, 0}, 2), 1e-6f);
    }

    @Test
    public void cosineAndNormalize() {
        assertEquals(1.0, Pooling.cosine(new float[] {1, 2}, new float[] {2, 4}), 1e-9);
        assertEquals(0.0, Pooling.cosine(new float[] {1, 0}, new float[] {0, 3}), 1e-9);
        assertArrayEquals(new float[] {0.6f, 0.8f}, Pooling.l2Normalize(new float[] {3, 4}), 1e-6f);
    }

    @Test
    public void softmaxIsStableAndSumsToOne() {
        double[] p = Pooling.softmax(new float[] {1000f, 1001f});
        assertEquals(1.0, p[0] + p[1], 1e-12);
        assertEquals(1 / (1 + Math.exp(-1)), p[1], 1e-12);
        assertEquals(1, Pooling.argmax(p));
    }

    @Test
    public void latencyStatisticsMatchPython() {
        // python: statistics.fmean / stdev and mobilecomp.types.Latency.percentile of these values
        LatencyStats s = new LatencyStats(new double[] {5, 1, 4, 2, 3, 10});
        assertEquals(4.166666666666667, s.mean(), 1e-12);
        assertEquals(3.1885210782848317, s.stdev(), 1e-12);
        assertEquals(3.5, s.percentile(50), 1e-12);
        assertEquals(7.5, s.percentile(90), 1e-12);
        assertEquals(1.0, s.min(), 0);
        assertEquals(10.0, s.max(), 0);
        assertEquals(0.0, new LatencyStats(new double[] {2}).stdev(), 0);
    }

    @Test
    public void benchmarkDiscardsWarmupAndTimesEachRun() throws Exception {
        final long[] now = {0};
        final int[] calls = {0};
        ModelRunner fake = new ModelRunner() {
            @Override
            public Map<String, Object> describe() {
                return Collections.<String, Object>singletonMap("name", "fake");
            }

            @Override
            public Map<String, float[]> run(Encoding input) {
                calls[0]++;
                now[0] += 1_000_000L * calls[0]; // run k takes k ms
                return new HashMap<String, float[]>();
            }

            @Override
            public void close() {
            }
        };
        Benchmark.Clock clock = new Benchmark.Clock() {
            @Override
            public long nanoTime() {
                return now[0];
            }
        };
        Encoding in = new Encoding(new int[] {1}, new int[] {1}, new int[] {0});
        LatencyStats s = Benchmark.measure(fake, in, 2, 3, clock);
        assertArrayEquals(new double[] {3, 4, 5}, s.values(), 1e-9);
        assertEquals(5, calls[0]);
    }

    @Test
    @SuppressWarnings("unchecked")
    public void jsonRoundTripsUnicodeAndNumbers() {
        Map<String, Object> doc = new HashMap<String, Object>();
        doc.put("text", "caf\u00e9 \ud83d\ude00 \"q\" \\ \n\u0001");
        doc.put("values", new double[] {1.5, 2.0});
        doc.put("n", 3);
        Map<String, Object> back = Json.parseObject(Json.writePretty(doc));
        assertEquals(doc.get("text"), back.get("text"));
        assertEquals(3L, back.get("n"));
        assertEquals(2.0, (Double) ((List<Object>) back.get("values")).get(1), 0);
        assertEquals("\ud83d\ude00", Json.parseObject("{\"e\": \"\\ud83d\\ude00\"}").get("e"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void malformedJsonIsAnError() {
        Json.parse("{\"a\": [1, 2}");
    }
}
