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
        return bundle(vocabSha, null, "vocab.txt", BertTokenizerTest.VOCAB);
    }

    /** A bundle whose tokenizer/FILE holds {@code content}; {@code kind} null: a manifest from before tokenizer.kind. */
    private File bundle(String vocabSha, String kind, String file, String content) throws IOException {
        File dir = tmp.newFolder();
        write(new File(dir, "tokenizer/" + file), content);
        write(new File(dir, "tokenizer/tokenizer_config.json"), "{\"pad_token\": \"" + (kind == null ? "[PAD]" : "<pad>") + "\"}");
        write(new File(dir, "manifest.json"), "{\"recipe\": {\"name\": \"tiny\"}, "
                + "\"tokenizer\": {\"files\": [\"tokenizer/" + file + "\"], \"vocab_file\": \"tokenizer/" + file + "\", "
                + (kind == null ? "" : "\"kind\": \"" + kind + "\", ")
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

    private static String sha(String text) {
        return Vocabulary.sha256Hex(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    public void opensByteLevelBpeAndUnigramBundlesByKind() throws Exception {
        BundleInfo bpe = BundleInfo.open(bundle(sha(PipelineTokenizerTest.TINY_BPE), "byte-level-bpe", "tokenizer.json",
                PipelineTokenizerTest.TINY_BPE));
        assertEquals("byte-level-bpe", bpe.tokenizer.kind());
        assertTrue(bpe.tokenizer instanceof ByteLevelBpeTokenizer);
        BundleInfo unigram = BundleInfo.open(bundle(sha(PipelineTokenizerTest.TINY_UNIGRAM), "unigram", "tokenizer.json",
                PipelineTokenizerTest.TINY_UNIGRAM));
        assertTrue(unigram.tokenizer instanceof UnigramTokenizer);
        assertEquals("wordpiece", BundleInfo.open(bundle(vocabSha())).tokenizerKind); // no kind: WordPiece
    }

    @Test
    public void refusesATokenizerItDoesNotImplementInOneLine() throws Exception {
        String json = PipelineTokenizerTest.TINY_UNIGRAM.replace("\"pre_tokenizer\":{\"type\":\"Sequence\"",
                "\"pre_tokenizer\":{\"type\":\"UnicodeScripts\"},\"unused\":{\"type\":\"Sequence\"");
        try {
            BundleInfo.open(bundle(sha(json), "unigram", "tokenizer.json", json));
            fail("an UnicodeScripts pre-tokenizer was accepted");
        } catch (BundleException ex) {
            assertEquals("tokenizer/tokenizer.json: pre_tokenizer 'UnicodeScripts' is not implemented by the Android core "
                    + "(it implements: ByteLevel, Digits, Metaspace, Punctuation, Sequence, WhitespaceSplit)", ex.getMessage());
        }
        try {
            BundleInfo.open(bundle(sha(json), "wordlevel", "tokenizer.json", json));
            fail("a wordlevel kind was accepted");
        } catch (BundleException ex) {
            assertEquals("tokenizer/tokenizer.json: tokenizer kind 'wordlevel' is not implemented by the Android core "
                    + "(it implements: wordpiece, byte-level-bpe, unigram)", ex.getMessage());
        }
        try {
            BundleInfo.open(bundle(sha(PipelineTokenizerTest.TINY_BPE), "unigram", "tokenizer.json",
                    PipelineTokenizerTest.TINY_BPE));
            fail("a kind that is not the file's was accepted");
        } catch (BundleException ex) {
            assertEquals("tokenizer/tokenizer.json: the manifest says tokenizer kind 'unigram' but tokenizer.json describes "
                    + "'byte-level-bpe'", ex.getMessage());
        }
    }

    @Test
    public void refusesAnEditedTokenizerJson() throws Exception {
        try {
            BundleInfo.open(bundle(sha(PipelineTokenizerTest.TINY_BPE), "byte-level-bpe", "tokenizer.json",
                    PipelineTokenizerTest.TINY_BPE + " "));
            fail("an edited tokenizer.json was accepted");
        } catch (BundleException ex) {
            assertTrue(ex.getMessage(), ex.getMessage().contains("refusing the bundle"));
        }
    }
}
