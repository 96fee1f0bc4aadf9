package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/**
 * The benchmark path end to end without a phone: the real bundle, its tokenizer, a fake runner,
 * the result JSON. With -Dmobilecomp.appResultOut=FILE the document is also written there, so
 * the Python parser (mobilecomp/profile/app_result.py) can be tested on what Java writes.
 */
public class AppResultTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    @SuppressWarnings("unchecked")
    public void benchmarkWritesTheDocumentedSchema() throws Exception {
        String bundleDir = System.getProperty("mobilecomp.bundle");
        org.junit.Assume.assumeTrue("no -Dmobilecomp.bundle", bundleDir != null && !bundleDir.isEmpty());
        BundleInfo bundle = BundleInfo.open(new File(bundleDir));
        BundleInfo.Artefact artefact = bundle.artefact(null, Collections.singleton("onnx"));
        Encoding input = bundle.tokenizer.encode("The committee said on Tuesday that the rules would change.", bundle.seqLen);
        ModelRunner fake = new ModelRunner() {
            @Override
            public Map<String, Object> describe() {
                Map<String, Object> r = new LinkedHashMap<String, Object>();
                r.put("name", "onnxruntime-android");
                r.put("version", "test-fake");
                r.put("provider", "CPU");
                r.put("threads", 1);
                return r;
            }

            @Override
            public Map<String, float[]> run(Encoding in) {
                return new HashMap<String, float[]>();
            }

            @Override
            public void close() {
            }
        };
        LatencyStats stats = Benchmark.measure(fake, input, 2, 20);
        Map<String, Object> device = new LinkedHashMap<String, Object>();
        device.put("manufacturer", "jvm");
        device.put("model", System.getProperty("java.vm.name"));
        device.put("soc", System.getProperty("os.arch"));
        device.put("abi", System.getProperty("os.arch"));
        device.put("android", null);
        device.put("sdk", 0);
        device.put("cores", Runtime.getRuntime().availableProcessors());
        Map<String, Object> app = new LinkedHashMap<String, Object>();
        app.put("package", "io.mobilecomp.demo");
        app.put("version", "test");
        Map<String, Object> output = new LinkedHashMap<String, Object>();
        output.put("head", bundle.head);
        Map<String, Object> doc = AppResult.ok(bundle, artefact, fake.describe(), device, app, 1, 2, input, stats, output);

        String wanted = System.getProperty("mobilecomp.appResultOut", "");
        File out = !wanted.isEmpty()
                ? new File(wanted) : tmp.newFile("result.json");
        AppResult.write(doc, out);
        Map<String, Object> back = Json.parseObject(BundleInfo.readText(out));
        assertEquals(AppResult.SCHEMA, back.get("schema"));
        assertEquals("ok", back.get("status"));
        assertEquals((long) bundle.seqLen, back.get("seq_len"));
        Map<String, Object> latency = (Map<String, Object>) back.get("latency_ms");
        assertEquals(20, ((List<Object>) latency.get("values")).size());
        assertTrue(((Map<String, Object>) back.get("bundle")).get("vocab_sha256").equals(bundle.vocabSha256));
    }

    @Test
    public void errorDocumentCarriesTheMessage() {
        Map<String, Object> doc = AppResult.error("vocabulary sha256 differs", new HashMap<String, Object>(),
                new HashMap<String, Object>());
        assertEquals("error", doc.get("status"));
        assertEquals("vocabulary sha256 differs", Json.parseObject(Json.write(doc)).get("error"));
    }
}
