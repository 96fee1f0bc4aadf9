package io.mobilecomp.core;

/** Times a runner: warm-up runs first (discarded), then one wall-clock sample per run. */
public final class Benchmark {
    /** Source of nanoseconds; System::nanoTime on devices, a fake in tests. */
    public interface Clock {
        long nanoTime();
    }

    public static final Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }
    };

    private Benchmark() {
    }

    public static LatencyStats measure(ModelRunner runner, Encoding input, int warmup, int runs) throws Exception {
        return measure(runner, input, warmup, runs, SYSTEM);
    }

    public static LatencyStats measure(ModelRunner runner, Encoding input, int warmup, int runs, Clock clock)
            throws Exception {
        if (runs < 1 || warmup < 0) {
            throw new IllegalArgumentException("runs must be >= 1 and warmup >= 0 (got " + runs + ", " + warmup + ")");
        }
        for (int i = 0; i < warmup; i++) {
            runner.run(input);
        }
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = clock.nanoTime();
            runner.run(input);
            ms[i] = (clock.nanoTime() - t0) / 1e6;
        }
        return new LatencyStats(ms);
    }
}
