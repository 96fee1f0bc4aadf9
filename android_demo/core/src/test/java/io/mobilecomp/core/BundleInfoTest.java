package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The app refuses a bundle whose vocabulary is not the one the manifest recorded. */
public class BundleInfoTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static void write(File f, String text) throws IOException {
        f.getParentFile().mkdirs();
        FileOutputStream out = new FileOutputStream(f);
        try {
            out.write(text.getBytes(StandardCharsets.UTF_8));
        } finally {
            out.close();
        }
    }

    private File bundle(String vocabSha) throws IOException {
        File dir = tmp.newFolder();
        write(new File(dir, "tokenizer/vocab.txt"), BertTokenizerTest.VOCAB);
        write(new File(dir, "manifest.json"), "{\"recipe\": {\"name\": \"tiny\"}, "
                + "\"tokenizer\": {\"files\": [\"tokenizer/vocab.txt\"], \"vocab_file\": \"tokenizer/vocab.txt\", "
                + "\"vocab_sha256\": \"" + vocabSha + "\"}, \"model\": {\"head\": \"encoder\", \"seq_len\": 16, "
                + "\"inputs\": [\"input_ids\", \"attention_mask\"], \"outputs\": [\"sentence_embedding\"], "
                + "\"primary_output\": \"sentence_embedding\"}, \"artefacts\": ["
                + "{\"name\": \"onnx-fp32\", \"format\": \"onnx\", \"variant\": \"fp32\", \"file\": \"model-fp32.onnx\", \"passed\": false},"
                + "{\"name\": \"onnx-int8\", \"format\": \"onnx\", \"variant\": \"int8\", \"file\": \"model-int8.onnx\"}]}");
        return dir;
    }

    private static String vocabSha() {
        return Vocabulary.sha256Hex(BertTokenizerTest.VOCAB.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    public void opensABundleWhoseVocabularyMatches() throws Exception {
        BundleInfo b = BundleInfo.open(bundle(vocabSha()));
        assertEquals("tiny", b.name);
        assertEquals(16, b.seqLen);
        assertEquals("onnx-int8", b.artefact(null, Collections.singleton("onnx")).name); // first that passed
        assertEquals("onnx-fp32", b.artefact("onnx-fp32", Collections.singleton("onnx")).name);
    }

    @Test
    public void refusesAVocabularyHashMismatch() throws Exception {
        String wrong = "0" + vocabSha().substring(1);
        try {
            BundleInfo.open(bundle(wrong));
            fail("a bundle with the wrong vocab_sha256 was accepted");
        } catch (BundleException ex) {
            assertTrue(ex.getMessage(), ex.getMessage().contains("refusing the bundle"));
        }
    }

    @Test
    public void refusesAnEditedVocabulary() throws Exception {
        File dir = bundle(vocabSha());
        write(new File(dir, "tokenizer/vocab.txt"), BertTokenizerTest.VOCAB + "extra\n");
        try {
            BundleInfo.open(dir);
            fail("an edited vocab.txt was accepted");
        } catch (BundleException ex) {
            assertTrue(ex.getMessage().contains("differs from the manifest"));
        }
    }

    @Test
    public void unknownArtefactListsTheKnownOnes() throws Exception {
        BundleInfo b = BundleInfo.open(bundle(vocabSha()));
        try {
            b.artefact("tflite-int8", Collections.singleton("onnx"));
            fail();
        } catch (BundleException ex) {
            assertTrue(ex.getMessage(), ex.getMessage().contains("onnx-fp32, onnx-int8"));
        }
    }
}
