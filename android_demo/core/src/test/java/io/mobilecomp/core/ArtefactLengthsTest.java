package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Map;
import org.junit.Test;

/** The fixed-length entry points an app runner picks from: .tflite signatures, .pte methods. */
public class ArtefactLengthsTest {

    @SuppressWarnings("unchecked")
    private static BundleInfo.Artefact artefact(String json) throws Exception {
        return new BundleInfo.Artefact((Map<String, Object>) Json.parse(json));
    }

    @Test
    public void pteMethodsAndTfliteSignaturesAreRead() throws Exception {
        BundleInfo.Artefact pte = artefact("{\"name\": \"executorch-fp32\", \"format\": \"executorch\", "
                + "\"variant\": \"fp32\", \"file\": \"model-fp32.pte\", "
                + "\"details\": {\"methods\": {\"seq32\": 32, \"seq128\": 128}}}");
        assertEquals(2, pte.lengths.size());
        assertEquals("seq128", Signatures.forLength(pte.lengths, 33));
        assertEquals("seq32", Signatures.forLength(pte.lengths, 32));
        BundleInfo.Artefact tflite = artefact("{\"name\": \"tflite-fp32\", \"format\": \"tflite\", "
                + "\"variant\": \"fp32\", \"file\": \"model-fp32.tflite\", "
                + "\"details\": {\"signatures\": {\"seq64\": 64}}}");
        assertEquals(Integer.valueOf(64), tflite.lengths.get("seq64"));
        BundleInfo.Artefact onnx = artefact("{\"name\": \"onnx-fp32\", \"format\": \"onnx\", "
                + "\"variant\": \"fp32\", \"file\": \"model-fp32.onnx\", \"details\": {}}");
        assertTrue(onnx.lengths.isEmpty());
    }

    @Test
    public void aBadLengthIsRefusedNamingTheField() throws Exception {
        try {
            artefact("{\"name\": \"executorch-fp32\", \"format\": \"executorch\", \"variant\": \"fp32\", "
                    + "\"file\": \"m.pte\", \"details\": {\"methods\": {\"seq32\": \"32\"}}}");
            fail("a string length was accepted");
        } catch (BundleException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("artefacts[executorch-fp32].details.methods.seq32"));
        }
    }
}
