package io.mobilecomp.core;

import java.io.Closeable;
import java.util.Map;

/**
 * One loaded artefact behind one method, so the benchmark and the UI do not care whether ONNX
 * Runtime or LiteRT runs it (the Android layer implements it; tests use a fake).
 */
public interface ModelRunner extends Closeable {
    /** "onnxruntime" or "litert" plus version, provider or delegate, threads: the result's "runner". */
    Map<String, Object> describe();

    /** Runs one packed input; returns each named output flattened row-major. */
    Map<String, float[]> run(Encoding input) throws Exception;
}
