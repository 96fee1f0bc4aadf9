package io.mobilecomp.demo

import android.app.Activity
import android.os.Bundle
import android.util.Log
import io.mobilecomp.core.AppResult
import io.mobilecomp.core.Benchmark
import io.mobilecomp.core.DeviceParity
import io.mobilecomp.core.Pooling
import java.io.File

/**
 * adb entry point. Extras: bundle (required), artefact, threads (4), runs (30), warmup (5),
 * text, out (file name, default mobilecomp-result.json), parity_sentences (32; 0 skips the
 * parity check on the bundle's parity sentences). Writes the result JSON (schema
 * mobilecomp-app-result/1, see README) into getExternalFilesDir(null), logs
 * "MOBILECOMP_RESULT <path>" on tag mobilecomp, and finishes. Errors are written as
 * status "error" documents, so the host never waits for a file that will not come.
 */
class BenchmarkActivity : Activity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val extras = intent.extras ?: Bundle()
        val outName = extras.getString("out") ?: "mobilecomp-result.json"
        val outDir = getExternalFilesDir(null) ?: filesDir
        val out = File(outDir, File(outName).name)
        Thread {
            val result = try {
                benchmark(extras)
            } catch (e: Throwable) {
                Log.e(TAG, "benchmark failed", e)
                AppResult.error("${e.javaClass.simpleName}: ${e.message}", DeviceFacts.device(), DeviceFacts.app(this))
            }
            AppResult.write(result, out)
            Log.i(TAG, "MOBILECOMP_RESULT ${out.absolutePath}")
            runOnUiThread { finish() }
        }.start()
    }

    private fun intExtra(extras: Bundle, key: String, default: Int): Int =
        extras.getString(key)?.toInt() ?: extras.getInt(key, default)

    private fun benchmark(extras: Bundle): MutableMap<String, Any?> {
        val path = extras.getString("bundle") ?: throw IllegalArgumentException("missing --es bundle /data/local/tmp/...")
        val threads = intExtra(extras, "threads", 4)
        val runs = intExtra(extras, "runs", 30)
        val warmup = intExtra(extras, "warmup", 5)
        val text = extras.getString("text") ?: DEFAULT_TEXT
        BundleSession.open(path, extras.getString("artefact"), threads).use { s ->
            val input = s.bundle.tokenizer.encode(text, s.bundle.seqLen) // padded to seq_len, like `profile`
            val stats = Benchmark.measure(s.runner, input, warmup, runs)
            val outputs = s.runner.run(input)
            val runnerInfo = s.runner.describe() // before the parity runs: names the signature timed
            val primary = outputs[s.bundle.primaryOutput] ?: outputs.values.first()
            val output = linkedMapOf<String, Any?>(
                "head" to s.bundle.head, "primary_output" to s.bundle.primaryOutput, "size" to primary.size,
                "norm" to Math.sqrt(primary.fold(0.0) { acc, v -> acc + v * v }))
            if (s.inference.isClassifier) {
                val probs = Pooling.softmax(primary)
                output["label"] = s.bundle.label(Pooling.argmax(probs))
                output["confidence"] = probs[Pooling.argmax(probs)]
            }
            @Suppress("UNCHECKED_CAST")
            val result = AppResult.ok(s.bundle, s.artefact, runnerInfo, DeviceFacts.device(), DeviceFacts.app(this),
                threads, warmup, input, stats, output) as MutableMap<String, Any?>
            // this runner's outputs on the bundle's parity sentences against reference.npz, with its budget
            val sentences = intExtra(extras, "parity_sentences", DeviceParity.SENTENCES)
            if (sentences > 0) result["parity"] = DeviceParity.check(s.bundle, s.artefact.name, s.runner, sentences)
            return result
        }
    }

    companion object {
        const val TAG = "mobilecomp"
        // the same sentence mobilecomp.inputs.profiling_feed measures on the host
        const val DEFAULT_TEXT = "The committee said on Tuesday that the new rules would take effect next year, " +
            "after a review of how small companies could comply without extra cost."
    }
}
