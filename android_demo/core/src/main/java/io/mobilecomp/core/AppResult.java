package io.mobilecomp.core;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.text.SimpleDateFormat;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;

/**
 * The benchmark's result document (schema "mobilecomp-app-result/1", defined in
 * android_demo/README.md and parsed by mobilecomp/profile/app_result.py).
 */
public final class AppResult {
    public static final String SCHEMA = "mobilecomp-app-result/1";

    private AppResult() {
    }

    /** A successful run. {@code device} and {@code app} come from the Android layer (Build.*). */
    public static Map<String, Object> ok(BundleInfo bundle, BundleInfo.Artefact artefact, Map<String, Object> runner,
            Map<String, Object> device, Map<String, Object> app, int threads, int warmup, Encoding input,
            LatencyStats latency, Map<String, Object> output) {
        Map<String, Object> r = base("ok", null, device, app);
        Map<String, Object> b = new LinkedHashMap<String, Object>();
        b.put("path", bundle.dir.getPath());
        b.put("name", bundle.name);
        b.put("head", bundle.head);
        b.put("vocab_sha256", bundle.vocabSha256);
        b.put("vocab_check", "ok");
        r.put("bundle", b);
        Map<String, Object> a = new LinkedHashMap<String, Object>();
        a.put("name", artefact.name);
        a.put("format", artefact.format);
        a.put("variant", artefact.variant);
        a.put("file", artefact.file);
        a.put("sha256", artefact.sha256);
        r.put("artefact", a);
        r.put("runner", runner);
        r.put("threads", threads);
        r.put("seq_len", input.length());
        r.put("batch", 1);
        r.put("tokens", input.realLength());
        r.put("warmup", warmup);
        r.put("runs", latency.n());
        r.put("latency_ms", latency.toMap());
        r.put("output", output);
        return r;
    }

    /** A failed run: the parser turns it into a DeviceError carrying {@code message}. */
    public static Map<String, Object> error(String message, Map<String, Object> device, Map<String, Object> app) {
        return base("error", message, device, app);
    }

    private static Map<String, Object> base(String status, String error, Map<String, Object> device,
            Map<String, Object> app) {
        Map<String, Object> r = new LinkedHashMap<String, Object>();
        r.put("schema", SCHEMA);
        r.put("status", status);
        r.put("error", error);
        r.put("timestamp", utcNow());
        r.put("device", device);
        r.put("app", app);
        return r;
    }

    static String utcNow() {
        SimpleDateFormat f = new SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss'Z'", Locale.ROOT);
        f.setTimeZone(TimeZone.getTimeZone("UTC"));
        return f.format(new Date());
    }

    /** Writes the document atomically enough for adb pull: to FILE.tmp, then renamed. */
    public static void write(Map<String, Object> result, File file) throws IOException {
        File tmp = new File(file.getPath() + ".tmp");
        OutputStream out = new FileOutputStream(tmp);
        try {
            out.write(Json.writePretty(result).getBytes(StandardCharsets.UTF_8));
        } finally {
            out.close();
        }
        if (!tmp.renameTo(file)) {
            throw new IOException("could not rename " + tmp + " to " + file);
        }
    }
}
