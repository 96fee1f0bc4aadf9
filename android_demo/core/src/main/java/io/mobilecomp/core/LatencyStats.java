package io.mobilecomp.core;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Latency samples in milliseconds with the statistics mobilecomp reports (same definitions as
 * mobilecomp.types.Latency: sample stdev, linearly interpolated percentiles).
 */
public final class LatencyStats {
    private final double[] values;
    private final double[] sorted;

    public LatencyStats(double[] valuesMs) {
        if (valuesMs.length == 0) {
            throw new IllegalArgumentException("no latency samples");
        }
        values = valuesMs.clone();
        sorted = valuesMs.clone();
        Arrays.sort(sorted);
    }

    public int n() {
        return values.length;
    }

    public double mean() {
        double sum = 0;
        for (double v : values) {
            sum += v;
        }
        return sum / values.length;
    }

    /** Sample standard deviation (n - 1); 0 for a single sample. */
    public double stdev() {
        if (values.length < 2) {
            return 0.0;
        }
        double mean = mean();
        double ss = 0;
        for (double v : values) {
            ss += (v - mean) * (v - mean);
        }
        return Math.sqrt(ss / (values.length - 1));
    }

    /** The q-th percentile (0..100), interpolated between the two nearest ranks. */
    public double percentile(double q) {
        double rank = (sorted.length - 1) * q / 100.0;
        int lo = (int) rank;
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public double min() {
        return sorted[0];
    }

    public double max() {
        return sorted[sorted.length - 1];
    }

    public double[] values() {
        return values.clone();
    }

    /** The "latency_ms" object of the app result JSON. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<String, Object>();
        m.put("unit", "ms");
        m.put("n", n());
        m.put("mean", mean());
        m.put("p50", percentile(50));
        m.put("p90", percentile(90));
        m.put("p95", percentile(95));
        m.put("p99", percentile(99));
        m.put("stdev", stdev());
        m.put("min", min());
        m.put("max", max());
        m.put("values", values());
        return m;
    }
}
